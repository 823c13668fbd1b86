// Marks the page as drawn only when this ran without an error and every chart has a size:
// a headless browser's dump of the DOM then says whether the report rendered.
(function () {
  var drawings = document.querySelectorAll("svg");
  var empty = 0;
  for (var i = 0; i < drawings.length; i++) {
    var box = drawings[i].getBoundingClientRect();
    if (!(box.width > 0 && box.height > 0)) empty++;
  }
  var ok = drawings.length > 0 && empty === 0;
  document.documentElement.setAttribute(
    "data-rendered",
    ok ? "ok" : "failed: " + empty + " of " + drawings.length + " drawings empty"
  );
})();
