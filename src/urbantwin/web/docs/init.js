// Start Swagger UI on the platform's OpenAPI document. A file of its own (not inline in the page), so
// /docs passes the Content-Security-Policy that allows scripts from this server only. Relative URLs
// keep it working behind a reverse proxy under a path prefix.
window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // No badge from the public validator service: the page makes no request to any other server.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
