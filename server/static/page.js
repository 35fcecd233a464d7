// Shared by every page (no inline scripts: the Content-Security-Policy allows only files from /static).
document.addEventListener("DOMContentLoaded", function () {
  // A document opened from a citation: bring the highlighted passage to the middle of the screen.
  var target = document.querySelector(".para.highlight");
  if (target) target.scrollIntoView({block: "center"});

  // "Sao chép trích dẫn": the citation and an absolute link to the passage.
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.dataset.cite + " " + location.origin + button.dataset.link;
      var label = button.textContent;
      var done = function (said) {
        button.textContent = said;
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (!navigator.clipboard) { done("Không sao chép được"); return; }
      navigator.clipboard.writeText(text).then(function () { done("Đã sao chép"); },
                                               function () { done("Không sao chép được"); });
    });
  });

  // The registry page: a filter box and sorting.
  var list = document.getElementById("refs");
  var filter = document.getElementById("refs-filter");
  var sort = document.getElementById("refs-sort");
  var count = document.getElementById("refs-count");
  if (list && filter && sort) {
    var fold = function (s) {
      return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D").toLowerCase();
    };
    var items = Array.prototype.slice.call(list.querySelectorAll("li.ref"));
    var apply = function () {
      var words = fold(filter.value).split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (li) {
        var text = fold(li.textContent);
        var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
        li.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = shown + " / " + items.length + " văn bản";
      var key = sort.value;
      var sorted = items.slice().sort(function (a, b) {
        if (key === "date") return (b.dataset.date || "").localeCompare(a.dataset.date || "");
        if (key === "count") return Number(b.dataset.count) - Number(a.dataset.count);
        return Number(a.dataset.order) - Number(b.dataset.order);
      });
      sorted.forEach(function (li) { list.appendChild(li); });
    };
    filter.addEventListener("input", apply);
    sort.addEventListener("change", apply);
    apply();
  }
});
