// Swagger UI at /docs: starts the bundled Swagger UI (templates/api_docs/swagger.html loads
// swagger-ui-bundle.js from the installed fastapi-offline package) on the app's OpenAPI
// document. A module file, not an inline script, so the page runs under the app's CSP.
// Uses: GET /openapi.json (the URL comes from the page's data-openapi-url). No URL state of
// its own beyond Swagger UI's deep links (#/tag/operation).
const root = document.getElementById("swagger-ui");

window.ui = window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // the online validator badge would load an image from another origin
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
});
