#!/usr/bin/env bash
# Build the django-ogc-sensorthings benchmark peer under DIR (idempotent): DIR/venv, DIR/project (SQLite db).
#   bash setup.sh DIR            # build / update
#   bash setup.sh DIR --reset    # also delete the SQLite database and re-migrate (empty store)
# Start it (ASGI, 2 uvicorn workers, 127.0.0.1:8019) with:  DIR/start.sh    stop: DIR/stop.sh
set -euo pipefail
DIR=${1:?usage: setup.sh DIR [--reset]}
mkdir -p "$DIR" && DIR=$(cd "$DIR" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}   # any Python >= 3.10
PORT=${STA_PEER_PORT:-8019}

[ -x "$DIR/venv/bin/python" ] || "$PY" -m venv "$DIR/venv"
"$DIR/venv/bin/pip" install -q --upgrade pip
"$DIR/venv/bin/pip" install -q "django-ogc-sensorthings>=1.2,<1.3" "uvicorn[standard]>=0.30" httpx

mkdir -p "$DIR/project/benchsite"
cp "$HERE/settings.py" "$HERE/urls.py" "$DIR/project/benchsite/"
: > "$DIR/project/benchsite/__init__.py"
cat > "$DIR/project/benchsite/asgi.py" <<'PY'
import os
from django.core.asgi import get_asgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
application = get_asgi_application()
PY
cat > "$DIR/project/manage.py" <<'PY'
#!/usr/bin/env python
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
PY
if [ "${2:-}" = "--reset" ]; then rm -f "$DIR"/project/db.sqlite3*; fi
(cd "$DIR/project" && "$DIR/venv/bin/python" manage.py migrate --noinput -v 0)

cat > "$DIR/start.sh" <<SH
#!/usr/bin/env bash
# django-ogc-sensorthings peer: uvicorn (ASGI; the package's views are async), 2 workers, 127.0.0.1:$PORT
cd "$DIR/project"
STA_PEER_PORT=$PORT nohup "$DIR/venv/bin/uvicorn" benchsite.asgi:application --workers 2 --host 127.0.0.1 --port $PORT \\
  --no-access-log > "$DIR/server.log" 2>&1 &
echo \$! > "$DIR/server.pid"
for i in \$(seq 60); do curl -sf http://127.0.0.1:$PORT/sensorthings/v1.1 >/dev/null && { echo "django-sta up on :$PORT (pid \$(cat "$DIR/server.pid"))"; exit 0; }; sleep 1; done
echo "django-sta did not come up; see $DIR/server.log"; exit 1
SH
cat > "$DIR/stop.sh" <<SH
#!/usr/bin/env bash
[ -f "$DIR/server.pid" ] && kill "\$(cat "$DIR/server.pid")" && rm -f "$DIR/server.pid" && echo stopped
SH
chmod +x "$DIR/start.sh" "$DIR/stop.sh"
echo "built $DIR; start: $DIR/start.sh; base URL http://127.0.0.1:$PORT/sensorthings/v1.1"
