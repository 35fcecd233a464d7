// Shared by every page (no inline scripts: the Content-Security-Policy allows only files from /static).
// A document opened from a citation: bring the highlighted passage to the middle of the screen.
document.addEventListener("DOMContentLoaded", function () {
  var target = document.querySelector(".para.highlight");
  if (target) target.scrollIntoView({block: "center"});
});
