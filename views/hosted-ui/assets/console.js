// The console's one script: copy buttons for a secret shown once. Without it the secret stays
// in a read-only field to select and copy by hand (the buttons stay hidden).
'use strict';
(function () {
  if (!navigator.clipboard) return;
  document.querySelectorAll('button[data-copy]').forEach(function (button) {
    var field = document.getElementById(button.getAttribute('data-copy'));
    var status = document.querySelector('[data-copy-status="' + button.getAttribute('data-copy') + '"]');
    if (!field) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      navigator.clipboard.writeText(field.value).then(function () {
        if (status) status.textContent = 'Copied.';
      }, function () {
        field.select();
        if (status) status.textContent = 'Copying did not work here: the text is selected, press Ctrl+C (⌘C on a Mac).';
      });
    });
  });
})();
