// The sign-in link's page (H6): the token travels in the link's fragment, which no browser sends to a
// server (so it is in no log); copy it into the form's field and drop it from the address bar. The
// page works without this script: the reader pastes the code.
"use strict";
(() => {
  const field = document.getElementById("signin-token");
  const token = window.location.hash.replace(/^#/, "");
  if (field && /^sil_[A-Za-z0-9]{43}$/.test(token)) {
    field.value = token;
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
})();
