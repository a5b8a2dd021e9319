// The privacy center's "Delete my data": a JSON post to the adapter's erasure endpoint (a
// cross-site form cannot send JSON), then the page that shows the request's state.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("erase");
  if (!button) { return; }
  button.addEventListener("click", function () {
    var status = document.getElementById("erase-status");
    button.disabled = true;
    fetch(button.dataset.endpoint, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: "{}",
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (body) { return [response.status, body]; });
    }).then(function (answer) {
      if (answer[0] === 202) {
        window.location.assign("/erased?request=" + encodeURIComponent(answer[1].request_id));
      } else {
        status.textContent = "The request failed (" + answer[0] + ").";
        button.disabled = false;
      }
    });
  });
});
