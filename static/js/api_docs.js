// The API reference page (/api/docs): Swagger UI, vendored, reading the live OpenAPI document.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: false, // a deep link is an <a> inside the operation's <button> (nested interactive controls)
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
});
