// Live quote on the republish page: post the form to its quote endpoint whenever an option changes
// and redraw the quote box. Without JavaScript the "Get a quote" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("republish-form");
  var box = document.getElementById("quote");
  if (!form || !box || !window.fetch) { return; }
  var timer = null;

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }

  function draw(data) {
    var table = document.createElement("table");
    var body = document.createElement("tbody");
    table.appendChild(body);
    data.lines.forEach(function (line) {
      var row = document.createElement("tr");
      cell(row, line.label); cell(row, line.amount, "num");
      body.appendChild(row);
    });
    var total = document.createElement("tr");
    total.className = "total";
    cell(total, "Price"); cell(total, data.total, "num");
    body.appendChild(total);
    box.replaceChildren(table);
  }

  function refresh() {
    var data = new FormData(form);
    fetch(form.getAttribute("data-quote-url"), { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.lines) { draw(answer); return; }
        var message = document.createElement("p");
        message.className = "field-error";
        message.textContent = answer.errors ? Object.values(answer.errors).join(" ") : (answer.error || "");
        box.replaceChildren(message);
      })
      .catch(function () { /* keep the last quote; the button still works */ });
  }

  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 250); }
  form.addEventListener("change", soon);
  form.addEventListener("input", soon);
})();
