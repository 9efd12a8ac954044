// sponsorwatch pages: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // "/" jumps to the search box of the ranking (unless typing in a field already).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (document.activeElement && document.activeElement.tagName) || "";
    if (["INPUT", "TEXTAREA", "SELECT"].indexOf(tag) >= 0) return;
    var search = document.getElementById("f-q");
    if (search) { event.preventDefault(); search.focus(); search.select(); }
  });

  // Score range: "from" may not exceed "to"; say so on the field instead of silently swapping.
  function checkRange() {
    var low = document.getElementById("f-min"), high = document.getElementById("f-max");
    if (!low || !high) return;
    var bad = low.value !== "" && high.value !== "" && Number(low.value) > Number(high.value);
    high.setCustomValidity(bad ? high.getAttribute("data-range-message") || "≥ " + low.value : "");
  }
  ["f-min", "f-max"].forEach(function (id) {
    var field = document.getElementById(id);
    if (field) field.addEventListener("input", checkRange);
  });

  // Outcome forms: an OPEN inspection has no closing date, findings or fine yet.
  document.querySelectorAll(".outcome-form").forEach(function (form) {
    var outcome = form.querySelector("select[name=outcome]");
    var closed = form.querySelector("input[name=closed_on]");
    function sync() {
      var open = outcome.value === "OPEN";
      closed.required = !open;
      form.querySelectorAll("input[name=findings], input[name=fine_eur], input[name=closed_on]")
        .forEach(function (input) { input.disabled = open; });
    }
    outcome.addEventListener("change", sync);
    sync();
  });

  // Keep the focus where the user was going after a redirect to a fragment (#reviews).
  if (location.hash) {
    var target = document.getElementById(location.hash.slice(1));
    if (target) { target.setAttribute("tabindex", "-1"); target.focus(); }
  }
})();
