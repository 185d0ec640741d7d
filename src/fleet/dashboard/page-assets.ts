// The page's one stylesheet and one small script, sent inline with the response's CSP nonce.
// Version colours are the Okabe–Ito palette (told apart with the common colour-vision
// deficiencies); markers use shape and pattern so nothing depends on colour alone.

export const style = `
body{font:14px/1.4 system-ui,sans-serif;margin:1rem 1.5rem;color:#111;background:#fff}
h1{font-size:1.3rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}h3{font-size:1rem;margin:.8rem 0 .3rem}
.muted{color:#555}
table{border-collapse:collapse}td,th{padding:.15rem .6rem;border-bottom:1px solid #ddd;text-align:left}
.num{text-align:right}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;list-style:none;padding:0;margin:.3rem 0}
.legend li{display:flex;align-items:center;gap:.35rem}
.g{display:grid;grid-template-columns:repeat(auto-fill,10px);gap:2px;margin:.3rem 0 1rem}
.c{display:block;width:10px;height:10px;box-sizing:border-box;border:1px solid #0004}
.c:focus-visible,.c:hover{outline:2px solid #000;outline-offset:1px}
.k0{background-color:#0072b2}.k1{background-color:#e69f00}.k2{background-color:#009e73}.k3{background-color:#cc79a7}
.k4{background-color:#56b4e9}.k5{background-color:#d55e00}.k6{background-color:#f0e442}.k7{background-color:#6b6b6b}
.z{background-image:linear-gradient(135deg,#fffa 30%,transparent 30%)}
.n{background:#fff;border-color:#777}.q{background:#eee;border:1px dotted #777}
.u{background:repeating-linear-gradient(45deg,#222 0 2px,#ddd 2px 4px)}
.d{border-radius:50%}
.f{border:2px solid #b00000;box-shadow:0 0 0 1px #000}
.l{outline:1px dashed #000;outline-offset:1px}
.m{animation:moving .8s infinite alternate}@keyframes moving{to{opacity:.3}}
@media (prefers-reduced-motion:reduce){.m{animation:none;opacity:.5}}
.fail{margin:.2rem 0 .6rem}.fail code{white-space:pre-wrap;word-break:break-word}
pre{background:#f4f4f4;padding:.5rem;overflow-x:auto;max-width:100%}
#detail:focus{outline:none}
dl{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem}dt{font-weight:600}dd{margin:0}
`;

/** Live updates (server-sent events name the parts that changed) and host details in place. */
export const script = `
(() => {
  const swap = async (id) => {
    const response = await fetch('/parts/' + id);
    const part = document.getElementById(id);
    if (response.ok && part) part.outerHTML = await response.text();
  };
  const events = new EventSource('/events');
  events.addEventListener('change', (event) => {
    for (const id of JSON.parse(event.data)) swap(id);
  });
  document.addEventListener('click', async (event) => {
    const cell = event.target instanceof Element ? event.target.closest('a.c') : null;
    if (!cell || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    const response = await fetch(cell.getAttribute('href') + '?part=1');
    const detail = document.getElementById('detail');
    if (!response.ok || !detail) return;
    detail.outerHTML = await response.text();
    document.getElementById('detail').focus();
  });
})();
`;
