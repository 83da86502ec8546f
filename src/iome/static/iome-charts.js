// Draw every course chart on the page with the site's own vega-embed (no CDN), sized to its column.
// Single and layered charts take the column's width ("container"); concatenated charts stack
// vertically when side by side would not fit, and shrink until they fit. Each chart's <svg> is one
// image with one accessible name (the chart's text description); explorer controls stay outside it.
(function () {
  "use strict";
  var GAP = 24;

  function copy(x) { return JSON.parse(JSON.stringify(x)); }
  function isComposite(s) { return s.hconcat || s.vconcat || s.concat || s.facet || s.repeat; }

  // Widths of a unit/layer spec and its children: drop fixed ones so the parent's width rules.
  function dropWidths(s) {
    (s.layer || []).forEach(function (l) { delete l.width; dropWidths(l); });
  }

  function fit(spec, avail) {
    var s = copy(spec);
    if (avail < 560) {  // a phone: shorter country labels leave room for the plot and legend
      s.config = s.config || {};
      s.config.axisY = Object.assign({ labelLimit: Math.max(100, Math.round(avail * 0.36)) }, s.config.axisY || {});
      s.config.legend = Object.assign({}, s.config.legend || {}, { titleLimit: avail - 130, labelLimit: avail - 150 });
    }
    if (!isComposite(s)) {
      dropWidths(s);
      s.width = "container";
      // room on the right for text labels next to the last points (the home country's name)
      if (s.padding === undefined) s.padding = { left: 5, top: 5, bottom: 5, right: 28 };
      s.autosize = { type: "fit-x", contains: "padding", resize: true };
      return s;
    }
    if (s.hconcat) {
      var total = s.hconcat.reduce(function (t, c) { return t + (typeof c.width === "number" ? c.width : 200) + 60; }, 0);
      if (total > avail) { s.vconcat = s.hconcat; delete s.hconcat; }
    }
    return s;
  }

  // Shrink the numeric widths of a composite chart by a factor (after a first draw overflowed).
  function shrink(s, factor) {
    if (typeof s.width === "number") s.width = Math.max(80, Math.floor(s.width * factor));
    ["hconcat", "vconcat", "concat", "layer"].forEach(function (k) {
      (s[k] || []).forEach(function (c) { shrink(c, factor); });
    });
    if (s.spec) shrink(s.spec, factor);
  }

  // inside the one image, no element has a role or label of its own (Vega may add them on redraw)
  function quiet(svg) {
    svg.querySelectorAll("[role], [aria-label], [aria-roledescription]").forEach(function (e) {
      e.removeAttribute("role");
      e.removeAttribute("aria-label");
      e.removeAttribute("aria-roledescription");
    });
  }

  function label(el, description) {
    var svg = el.querySelector("svg");
    if (!svg) return;
    quiet(svg);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", description);
    svg.removeAttribute("aria-roledescription");
    svg.removeAttribute("aria-hidden");
    if (!svg._iomeObserved && window.MutationObserver) {
      svg._iomeObserved = true;
      new MutationObserver(function () { quiet(svg); }).observe(svg, { childList: true, subtree: true });
    }
  }

  function draw(el, spec, description, tries) {
    var avail = el.clientWidth || el.parentNode.clientWidth || 320;
    var s = fit(spec, avail);
    el._iomeWidth = avail;
    return vegaEmbed(el, s, { actions: false, renderer: "svg" }).then(function (res) {
      if (el._iomeView && el._iomeView !== res.view) el._iomeView.finalize();
      el._iomeView = res.view;
      label(el, description);
      var svg = el.querySelector("svg");
      var drawn = svg ? svg.getBoundingClientRect().width : 0;
      if (isComposite(s) && drawn > avail + 1 && tries < 3) {
        var next = copy(spec);
        if (s.vconcat && spec.hconcat) { next.vconcat = next.hconcat; delete next.hconcat; }
        shrink(next, Math.max(0.3, (avail - GAP) / drawn));
        el._iomeSpec = next;
        return draw(el, next, description, tries + 1);
      }
      return res;
    });
  }

  function start() {
    var charts = [];
    document.querySelectorAll("div.iome-vega").forEach(function (el) {
      var spec = JSON.parse(el.nextElementSibling.textContent);
      var description = el.getAttribute("data-description") || "";
      el._iomeSpec = spec;
      charts.push(el);
      draw(el, spec, description, 0).catch(function (err) {
        el.textContent = "The chart could not be drawn: " + err;
      });
    });
    // concatenated charts have fixed widths: redraw them when their column changes width
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        charts.forEach(function (el) {
          if (isComposite(el._iomeSpec) && Math.abs(el.clientWidth - el._iomeWidth) > 8) {
            draw(el, JSON.parse(el.nextElementSibling.textContent), el.getAttribute("data-description") || "", 0);
          }
        });
      }, 200);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
