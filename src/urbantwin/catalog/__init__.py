"""The DCAT-AP.de catalogue of every dataset at `/catalog`: records, search and facets (service),
the RDF graph (dcat), an HTML view (html) and the HTTP binding with content negotiation (routes)."""
