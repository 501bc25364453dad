// The web app's only script (the CSP allows no other): small progressive enhancements. Every
// page works without it.
"use strict";
document.addEventListener("submit", (event) => {
  // <form data-confirm="Revoke this key?">: ask before a destructive change.
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
