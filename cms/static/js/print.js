// Buttons marked data-print open the browser's print dialog (no inline handlers: the
// Content-Security-Policy refuses them).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-print]");
  if (button) {
    window.print();
  }
});
