// Switchyard dashboard: small progressive enhancements. Every page works without this file.
"use strict";

(function () {
  // Copy a newly created key (or invite code) to the clipboard.
  function setupCopy(buttonId, codeId) {
    var button = document.getElementById(buttonId);
    var code = document.getElementById(codeId);
    if (!button || !code) return;
    button.addEventListener("click", function () {
      var text = code.textContent || "";
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(code); });
      } else {
        selectText(code);
      }
    });
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  // Playground: stream the answer instead of waiting for the whole page.
  function setupPlayground() {
    var form = document.getElementById("playground-form");
    var chat = document.getElementById("chat");
    if (!form || !chat || !window.fetch || !window.TextDecoder) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var message = form.querySelector("[name=message]");
      var history = form.querySelector("[name=history]");
      var button = form.querySelector("button[type=submit]");
      var text = (message.value || "").trim();
      if (!text) return;
      var body = new URLSearchParams(new FormData(form));
      appendMessage(chat, "user", text);
      var answer = appendMessage(chat, "assistant", "");
      answer.classList.add("streaming");
      var content = answer.querySelector(".content");
      button.disabled = true;
      var errorBox = document.getElementById("playground-error");
      if (errorBox) errorBox.remove();
      fetch("/playground/stream", {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/event-stream" }
      }).then(function (resp) {
        if (!resp.ok || !resp.body) {
          return resp.text().then(function (text) {
            var message = null;
            try { message = JSON.parse(text).error.message; } catch (e) { message = null; }
            throw new Error(message || "The request failed (HTTP " + resp.status + ").");
          });
        }
        var reader = resp.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        var failed = null;
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) return;
            buffer += decoder.decode(r.value, { stream: true });
            var parts = buffer.split("\n\n");
            buffer = parts.pop();
            parts.forEach(function (event) {
              event.split("\n").forEach(function (line) {
                if (line.indexOf("data: ") !== 0) return;
                var data = line.slice(6);
                if (data === "[DONE]") return;
                var obj;
                try { obj = JSON.parse(data); } catch (e) { return; }
                if (obj.error) { failed = obj.error.message || "The request failed."; return; }
                var choice = obj.choices && obj.choices[0];
                if (choice && choice.delta && typeof choice.delta.content === "string") {
                  content.textContent += choice.delta.content;
                }
              });
            });
            return pump();
          });
        }
        return pump().then(function () { if (failed) throw new Error(failed); });
      }).then(function () {
        var turns = [];
        try { turns = JSON.parse(history.value || "[]"); } catch (e) { turns = []; }
        turns.push({ role: "user", content: text });
        turns.push({ role: "assistant", content: content.textContent });
        history.value = JSON.stringify(turns);
        message.value = "";
      }).catch(function (err) {
        answer.remove();
        var p = document.createElement("p");
        p.className = "error";
        p.id = "playground-error";
        p.textContent = err.message;
        form.parentNode.insertBefore(p, form);
      }).then(function () {
        answer.classList.remove("streaming");
        button.disabled = false;
      });
    });
  }

  function appendMessage(chat, role, text) {
    var div = document.createElement("div");
    div.className = "msg " + role;
    var label = document.createElement("span");
    label.className = "role";
    label.textContent = role;
    var content = document.createElement("span");
    content.className = "content";
    content.textContent = text;
    div.appendChild(label);
    div.appendChild(content);
    chat.appendChild(div);
    return div;
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopy("copy-key", "new-key");
    setupCopy("copy-invite", "new-invite");
    setupPlayground();
  });
})();
