#!/usr/bin/env bash
# Build the pygeoapi benchmark peer under DIR (idempotent; outside this repository, nothing of it is
# committed): DIR/venv with pygeoapi from the package registry and what its PostgreSQL provider needs,
# DIR/config.yml (the PostGIS provider on the table `buildings` of database PGDATABASE) and its
# OpenAPI document, and DIR/start.sh / DIR/stop.sh (gunicorn, 2 workers, 127.0.0.1:PORT).
#   bash setup.sh DIR                 # e.g. /work/peers/pygeoapi
#   PYGEOAPI_PORT=8020 PGDATABASE=pygeoapi_bench bash setup.sh DIR
#   bash setup.sh DIR --upgrade       # reinstall the packages (else they are installed once)
#   bash setup.sh DIR --no-openapi    # everything but the OpenAPI document (the table is not there yet)
# The table itself is written by the shared generator, run with this venv's Python (it needs psycopg2):
#   DIR/venv/bin/python ../shared/bench/gen_polygons.py --out polygons.geojson --pg "host=127.0.0.1 user=postgres dbname=pygeoapi_bench"
# pygeoapi's provider reads the table when it writes the OpenAPI document, so the document needs the
# table (else ProviderConnectionError): on a new machine run this with --no-openapi, then the
# generator, then this again. bench/features.py does all of this itself, in one sitting with urbantwin.
set -euo pipefail
DIR=${1:?usage: setup.sh DIR [--upgrade] [--no-openapi]}
shift
UPGRADE=0
OPENAPI=1
for flag in "$@"; do
  case "$flag" in
    --upgrade) UPGRADE=1 ;;
    --no-openapi) OPENAPI=0 ;;
    *) echo "setup.sh: unknown option $flag (use --upgrade, --no-openapi)" >&2; exit 2 ;;
  esac
done
mkdir -p "$DIR" && DIR=$(cd "$DIR" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}   # any Python >= 3.10
PORT=${PYGEOAPI_PORT:-8020}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
PGPASSWORD=${PGPASSWORD:-}
PGDATABASE=${PGDATABASE:-pygeoapi_bench}
PYGEOAPI_SPEC=${PYGEOAPI_SPEC:-pygeoapi}   # e.g. "pygeoapi==0.21.0"

[ -x "$DIR/venv/bin/python" ] || "$PY" -m venv "$DIR/venv"
if [ ! -x "$DIR/venv/bin/gunicorn" ] || [ "$UPGRADE" = 1 ]; then
  "$DIR/venv/bin/pip" install -q --upgrade pip
  # pygeoapi's PostgreSQL provider (pygeoapi/provider/sql.py) needs SQLAlchemy, GeoAlchemy2 and
  # psycopg2; gunicorn serves its Flask app as pygeoapi's documentation deploys it.
  "$DIR/venv/bin/pip" install -q --upgrade "$PYGEOAPI_SPEC" geoalchemy2 psycopg2-binary gunicorn
fi

sed -e "s|@PORT@|$PORT|g" -e "s|@PGHOST@|$PGHOST|g" -e "s|@PGPORT@|$PGPORT|g" -e "s|@PGUSER@|$PGUSER|g" \
    -e "s|@PGPASSWORD@|$PGPASSWORD|g" -e "s|@PGDATABASE@|$PGDATABASE|g" "$HERE/config.yml.in" > "$DIR/config.yml"
if [ "$OPENAPI" = 1 ]; then
  PYGEOAPI_CONFIG="$DIR/config.yml" "$DIR/venv/bin/pygeoapi" openapi generate "$DIR/config.yml" \
      --output-file "$DIR/openapi.yml" > /dev/null
fi

cat > "$DIR/start.sh" <<SH
#!/usr/bin/env bash
# pygeoapi peer: its Flask app under gunicorn, 2 sync workers, 127.0.0.1:$PORT
export PYGEOAPI_CONFIG="$DIR/config.yml" PYGEOAPI_OPENAPI="$DIR/openapi.yml"
nohup "$DIR/venv/bin/gunicorn" --workers 2 --bind 127.0.0.1:$PORT --log-level warning pygeoapi.flask_app:APP \\
  > "$DIR/server.log" 2>&1 &
echo \$! > "$DIR/server.pid"
for i in \$(seq 60); do curl -sf "http://127.0.0.1:$PORT/collections?f=json" >/dev/null && { echo "pygeoapi up on :$PORT (pid \$(cat "$DIR/server.pid"))"; exit 0; }; sleep 1; done
echo "pygeoapi did not come up; see $DIR/server.log"; exit 1
SH
cat > "$DIR/stop.sh" <<SH
#!/usr/bin/env bash
[ -f "$DIR/server.pid" ] && kill "\$(cat "$DIR/server.pid")" && rm -f "$DIR/server.pid" && echo stopped
SH
chmod +x "$DIR/start.sh" "$DIR/stop.sh"
echo "built $DIR ($("$DIR/venv/bin/pip" show pygeoapi 2>/dev/null | sed -n 's/^Version: /pygeoapi /p')); start: $DIR/start.sh; base URL http://127.0.0.1:$PORT"
