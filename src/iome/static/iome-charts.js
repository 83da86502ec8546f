// Fill every course chart on the page with the site's own copy of vega-embed (no CDN).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("div.iome-vega").forEach(function (el) {
    var spec = JSON.parse(el.nextElementSibling.textContent);
    vegaEmbed(el, spec, { actions: false, renderer: "svg" }).catch(function (err) {
      el.textContent = "The chart could not be drawn: " + err;
    });
  });
});
