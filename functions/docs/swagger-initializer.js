// Swagger UI on this API's own contract (GET openapi.json, next to /docs): no CDN, no inline script.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
