// PyAI AMD console: copy buttons, confirmations, the aggressiveness dial and upload feedback.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
    } finally {
      document.body.removeChild(area);
    }
    return Promise.resolve();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    copyText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(function () {
        button.textContent = label;
        button.classList.remove("copied");
      }, 1600);
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var busy = form.getAttribute("data-busy");
    if (busy) {
      var button = form.querySelector("button[type=submit]");
      if (button) {
        setTimeout(function () {
          button.disabled = true;
          button.textContent = busy;
        }, 0);
      }
    }
  });

  // The dial: a range input and a number input kept in step, moving the marker on the chart.
  document.querySelectorAll("[data-dial]").forEach(function (root) {
    var range = root.querySelector("input[type=range]");
    var number = root.querySelector("input[type=number]");
    var marker = document.querySelectorAll("[data-dial-marker]");
    var label = document.querySelectorAll("[data-dial-label]");
    var band = root.querySelector("[data-dial-band]");
    var safeMax = parseFloat(root.getAttribute("data-safe-max"));
    var machineMin = parseFloat(root.getAttribute("data-machine-min"));

    function show(value) {
      var v = Math.min(1, Math.max(0, parseFloat(value)));
      if (isNaN(v)) return;
      var x = (v * 100).toFixed(1) + "%";
      marker.forEach(function (m) {
        m.setAttribute("x1", x);
        m.setAttribute("x2", x);
      });
      label.forEach(function (t) {
        t.setAttribute("x", x);
        t.setAttribute("text-anchor", v > 0.8 ? "end" : v < 0.2 ? "start" : "middle");
        t.textContent = v.toFixed(2);
      });
      if (band) {
        band.textContent = v <= safeMax ? "human-safe" : v >= machineMin ? "machine-aggressive" : "balanced";
      }
    }

    if (range && number) {
      range.addEventListener("input", function () {
        number.value = range.value;
        show(range.value);
      });
      number.addEventListener("input", function () {
        range.value = number.value;
        show(number.value);
      });
      show(number.value);
    }
  });
})();

// On narrow screens the navigation is a sideways strip: bring the current page's link into view.
(function () {
  var nav = document.querySelector(".sidenav");
  var active = nav && nav.querySelector("a.active");
  if (nav && active && nav.scrollWidth > nav.clientWidth) {
    nav.scrollLeft = active.offsetLeft - (nav.clientWidth - active.offsetWidth) / 2;
  }
})();
