() => {
  // A marker [n] in an answer scrolls the sources panel to its entry. Clicking a message also
  // selects its answer, so the entry may appear a moment after the click: look for it briefly.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.docqa-marker");
    if (!link) return;
    event.preventDefault();
    const id = (link.getAttribute("href") || "").slice(1);
    let tries = 0;
    const show = () => {
      const entry = document.getElementById(id);
      if (entry) {
        const panel = document.getElementById("docqa-sources-panel");
        const head = panel.querySelector(".docqa-panel-head");
        // the panel's head stays on top of it (sticky): the entry must start below the head
        const top = (head ? head.offsetHeight : 0) + 4;
        const box = panel.getBoundingClientRect(), place = entry.getBoundingClientRect();
        if (place.top < box.top + top || place.bottom > box.bottom) {
          panel.scrollTo({top: panel.scrollTop + place.top - box.top - top, behavior: "smooth"});
        }
        // the page itself moves only when the panel is out of the window (a narrow one: it is below the chat)
        panel.scrollIntoView({behavior: "smooth", block: "nearest"});
        entry.classList.add("docqa-flash");
        setTimeout(() => entry.classList.remove("docqa-flash"), 1600);
      } else if (tries++ < 30) {
        setTimeout(show, 100);
      }
    };
    show();
  }, true);

  // Gradio's copy buttons copy a message as it is stored: Markdown with backslash escapes, HTML
  // entities and the markers' links. What a user pastes should read as the message reads.
  const plainText = (markup) => {
    const unlinked = markup.replace(/<a class="docqa-marker"[^>]*>([\s\S]*?)<\/a>/g, "$1");
    const unescaped = unlinked.replace(/\\([\\`*_{}\[\]()#+\-.!|~>$])/g, "$1");
    // entities only (&lt; &#91;): the stored text holds no other markup; a parsed document runs no script
    return new DOMParser().parseFromString(unescaped, "text/html").documentElement.textContent;
  };
  let copyingChat = false;
  document.addEventListener("click", (event) => {
    const chat = document.getElementById("docqa-chat");
    if (!chat || !chat.contains(event.target) || !event.target.closest("button")) return;
    copyingChat = true;  // Gradio writes the clipboard within this click
    setTimeout(() => { copyingChat = false; }, 0);
  }, true);
  if (navigator.clipboard && navigator.clipboard.writeText) {
    const writeText = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = (text) => writeText(copyingChat ? plainText(String(text)) : text);
  }
  // without a secure context Gradio copies from a hidden textarea instead
  document.addEventListener("copy", (event) => {
    const field = document.activeElement;
    if (!copyingChat || !field || field.tagName !== "TEXTAREA") return;
    event.clipboardData.setData("text/plain", plainText(field.value));
    event.preventDefault();
  }, true);
}
