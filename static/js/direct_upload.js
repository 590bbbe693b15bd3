// Direct uploads to S3. Active only when the layout sets <body data-direct-upload="<presign url>">
// (storage is S3). A file chosen in an <input type=file data-upload-kind> goes straight to the bucket:
// ask the app for a presigned POST, send the bytes to S3, ask the app to confirm (it checks size and
// content), then put the file's id in a hidden <name>__file_id input and clear the file input, so the
// form carries the id and never the bytes. Without S3 nothing here runs and files go with the form.
// Listeners sit on document, so forms swapped in by HTMX later work too.
(function () {
  "use strict";

  var INPUTS = "input[type=file][data-upload-kind]";
  var FAILED = "The upload failed. Please try again.";
  var STORAGE_FAILED = "The file could not be sent to storage. Please try again.";

  function presignUrl() {
    return document.body ? document.body.getAttribute("data-direct-upload") : null;
  }

  function csrfToken(form) {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) {
        return headers["X-CSRFToken"];
      }
    } catch (ignored) {
      // fall back to the form's own token
    }
    var field = form.querySelector("input[name$='csrf_token']");
    return field ? field.value : "";
  }

  // The line beside the field that says what is happening (read out by screen readers).
  function show(input, text, failed) {
    var id = (input.id || input.name) + "-upload-status";
    var line = document.getElementById(id);
    if (!line) {
      line = document.createElement("div");
      line.id = id;
      line.className = "form-text";
      line.setAttribute("aria-live", "polite");
      line.setAttribute("data-upload-status", "");
      (input.closest(".input-group") || input).insertAdjacentElement("afterend", line);
      var described = input.getAttribute("aria-describedby");
      input.setAttribute("aria-describedby", described ? described + " " + id : id);
    }
    line.textContent = text;
    line.classList.toggle("text-danger", !!failed);
    input.classList.toggle("is-invalid", !!failed);
  }

  function claimName(input) {
    return input.name + "__file_id";
  }

  function dropClaim(input) {
    var hidden = input.form.querySelector("input[type=hidden][data-upload-claim='" + input.name + "']");
    if (hidden) {
      hidden.remove();
    }
    if (input.hasAttribute("data-upload-required")) {
      input.required = true;  // a chosen file is required again until the next upload arrives
    }
  }

  function attach(input, fileId) {
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = claimName(input);
    hidden.value = fileId;
    hidden.setAttribute("data-upload-claim", input.name);
    input.insertAdjacentElement("afterend", hidden);
    if (input.required) {
      input.setAttribute("data-upload-required", "");
      input.required = false;  // the file input is empty now; the hidden id stands for the file
    }
    input.value = "";  // the bytes are in S3: do not send them again with the form
  }

  // While a file is on its way the form cannot be submitted.
  function setBusy(form, delta) {
    var count = (parseInt(form.getAttribute("data-uploading") || "0", 10) || 0) + delta;
    if (count > 0) {
      form.setAttribute("data-uploading", String(count));
    } else {
      form.removeAttribute("data-uploading");
    }
    Array.prototype.forEach.call(form.elements, function (element) {
      if (element.type !== "submit") {
        return;
      }
      if (count > 0 && !element.disabled) {
        element.disabled = true;
        element.setAttribute("data-upload-disabled", "");
      } else if (count <= 0 && element.hasAttribute("data-upload-disabled")) {
        element.disabled = false;
        element.removeAttribute("data-upload-disabled");
      }
    });
  }

  function askApp(url, body, token) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, Accept: "application/json" },
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          return { status: response.status, ok: response.ok, data: data };
        });
    });
  }

  // XMLHttpRequest rather than fetch: it reports upload progress. Policy fields first, the file last.
  function sendToBucket(target, file, progress) {
    return new Promise(function (resolve, reject) {
      var body = new FormData();
      Object.keys(target.fields).forEach(function (name) {
        body.append(name, target.fields[name]);
      });
      body.append("file", file);
      var request = new XMLHttpRequest();
      request.open("POST", target.url);
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          progress(Math.round((100 * event.loaded) / event.total));
        }
      });
      request.onload = function () {
        if (request.status >= 200 && request.status < 300) {
          resolve();
        } else {
          reject(new Error(STORAGE_FAILED));
        }
      };
      request.onerror = function () {
        reject(new Error(STORAGE_FAILED));
      };
      request.send(body);
    });
  }

  function upload(input, file) {
    var form = input.form;
    var token = csrfToken(form);
    var attempt = String((parseInt(input.getAttribute("data-upload-attempt") || "0", 10) || 0) + 1);
    input.setAttribute("data-upload-attempt", attempt);
    function current() {
      return input.getAttribute("data-upload-attempt") === attempt;  // a newer choice replaces this one
    }
    var ask = new FormData();
    ask.append("kind", input.getAttribute("data-upload-kind"));
    ask.append("filename", file.name);
    ask.append("size", String(file.size));
    setBusy(form, 1);
    show(input, "Uploading " + file.name + "…");
    askApp(presignUrl(), ask, token)
      .then(function (answer) {
        if (answer.status === 404) {
          show(input, "");  // not a direct upload for this account: the file goes with the form
          return null;
        }
        if (!answer.ok || !answer.data.url) {
          throw new Error(answer.data.error || FAILED);
        }
        var target = answer.data;
        return sendToBucket(target, file, function (percent) {
          if (current()) {
            show(input, "Uploading " + file.name + "… " + percent + "%");
          }
        })
          .then(function () {
            return askApp(target.confirm_url, new FormData(), token);
          })
          .then(function (confirmed) {
            if (!confirmed.ok || !confirmed.data.file_id) {
              throw new Error(confirmed.data.error || FAILED);
            }
            if (current()) {
              attach(input, confirmed.data.file_id);
              show(input, "Uploaded " + (confirmed.data.name || file.name) + ".");
            }
          });
      })
      .catch(function (error) {
        if (current()) {
          input.value = "";
          show(input, error.message || FAILED, true);
        }
      })
      .finally(function () {
        setBusy(form, -1);
      });
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!presignUrl() || !input.matches || !input.matches(INPUTS) || !input.form) {
      return;
    }
    var file = input.files && input.files[0];
    if (!file) {
      return;  // nothing chosen (a cancelled dialog): keep what was uploaded before
    }
    dropClaim(input);
    upload(input, file);
  });

  document.addEventListener(
    "submit",
    function (event) {
      if (event.target.hasAttribute && event.target.hasAttribute("data-uploading")) {
        event.preventDefault();
        event.stopPropagation();  // before HTMX's own listener on the form
      }
    },
    true
  );

  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail && event.detail.elt;
    var form = element && element.closest ? element.closest("form") : null;
    if (form && form.hasAttribute("data-uploading")) {
      event.preventDefault();
    }
  });
})();
