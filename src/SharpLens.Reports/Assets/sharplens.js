/* SharpLens report widgets: attention heads and neuron text. No external dependencies besides Plotly. */
var SL = (function () {
  function hex(c) { return [parseInt(c.substr(1, 2), 16), parseInt(c.substr(3, 2), 16), parseInt(c.substr(5, 2), 16)]; }
  function colorAt(stops, t) {
    if (!isFinite(t)) t = 0.5;
    t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    var i = Math.min(Math.floor(t), stops.length - 2), f = t - i, a = hex(stops[i]), b = hex(stops[i + 1]);
    return [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); });
  }
  function css(rgb) { return 'rgb(' + rgb.join(',') + ')'; }
  function dark(rgb) { return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 140; }
  function show(tok) { return tok.replace(/\n/g, '\u21b5').replace(/\t/g, '\u21e5'); }
  function fmt(v) { return (v === null || v === undefined) ? 'NaN' : Number(v).toFixed(4); }
  function span(cls, text) { var s = document.createElement('span'); s.className = cls; s.textContent = text; return s; }

  // Charts keep their natural width when it fits and shrink to the content width of the element that holds them
  // otherwise (a 26-bar chart is not clipped by its card); they follow that width when the window is resized.
  var fitted = [], pending = false;
  function room(el) {
    var box = el.parentElement;
    if (!box) return 0;
    var cs = getComputedStyle(box);
    return box.clientWidth - (parseFloat(cs.paddingLeft) || 0) - (parseFloat(cs.paddingRight) || 0);
  }
  function fitWidth(el, natural) {
    var w = Math.floor(room(el));
    return w > 0 ? Math.min(natural, w) : natural;     // a hidden holder (no width yet) keeps the natural size
  }
  function track(el, natural) {
    if (el.dataset.naturalWidth === undefined) fitted.push(el);
    el.dataset.naturalWidth = natural;
  }
  window.addEventListener('resize', function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () {
      pending = false;
      fitted.forEach(function (el) {
        if (!el.isConnected || !el.layout) return;
        var w = fitWidth(el, +el.dataset.naturalWidth);
        if (w !== el.layout.width) { el.style.width = w + 'px'; Plotly.relayout(el, { width: w }); }
      });
    });
  });
  function plot(id, data, layout, config) {
    var el = document.getElementById(id), w = fitWidth(el, layout.width);
    el.style.width = w + 'px';
    track(el, layout.width);
    return Plotly.newPlot(el, data, Object.assign({}, layout, { width: w }), config);
  }

  function attention(id, d) {
    var root = document.getElementById(id), heads = root.querySelector('.sl-attn-heads'), plot = document.getElementById(id + '-plot');
    var toks = root.querySelector('.sl-attn-tokens'), info = document.getElementById(id + '-info'), n = d.tokens.length, cur = 0;
    d.heads.forEach(function (h, k) {
      var b = document.createElement('button'); b.type = 'button'; b.className = 'sl-head'; b.id = id + '-head-' + k; b.title = h.name;
      var c = document.createElement('canvas'); c.width = 64; c.height = 64; b.appendChild(c); b.appendChild(span('sl-head-name', h.name));
      var ctx = c.getContext('2d'), s = 64 / n;
      for (var i = 0; i < n; i++) for (var j = 0; j < n; j++) { ctx.fillStyle = css(colorAt(d.blues, h.pattern[i][j] / d.max)); ctx.fillRect(j * s, i * s, Math.ceil(s), Math.ceil(s)); }
      b.addEventListener('click', function () { select(k); });
      b.addEventListener('mouseenter', function () { select(k); });
      heads.appendChild(b);
    });
    var spans = d.tokens.map(function (t, i) {
      var s = span('sl-tok', show(t)); s.dataset.i = i; s.id = id + '-tok-' + i; toks.appendChild(s);
      s.addEventListener('mouseenter', function () { focus(i); });
      s.addEventListener('mouseleave', function () { focus(-1); });
      return s;
    });
    function top(arr, skip) {
      return arr.map(function (v, j) { return [v, j]; }).filter(function (p) { return p[0] > 0; })
        .sort(function (a, b) { return b[0] - a[0]; }).slice(0, 3)
        .map(function (p) { return '\u201c' + show(d.tokens[p[1]]) + '\u201d_' + p[1] + ' (' + p[0].toFixed(3) + ')'; }).join(', ') || 'nothing';
    }
    function focus(i) {
      var p = d.heads[cur].pattern;
      spans.forEach(function (s, j) {
        if (i < 0) { s.style.background = ''; s.style.color = ''; s.style.boxShadow = ''; return; }
        var to = colorAt(d.blues, p[i][j] / d.max);            // where token i attends (blue fill)
        var from = p[j][i] / d.max;                               // how much token j attends to i (orange underline)
        s.style.background = css(to); s.style.color = dark(to) ? 'white' : '';
        s.style.boxShadow = from > 0.02 ? 'inset 0 -' + Math.max(2, Math.round(from * 6)) + 'px 0 rgba(230,120,20,' + Math.max(0.25, from).toFixed(2) + ')' : '';
      });
      if (i >= 0) spans[i].style.outline = '2px solid #222';
      spans.forEach(function (s, j) { if (j !== i) s.style.outline = ''; });
      info.textContent = i < 0 ? 'Hover a token: blue = where it attends, orange underline = what attends to it.'
        : d.heads[cur].name + ': \u201c' + show(d.tokens[i]) + '\u201d_' + i + ' attends to ' + top(p[i]) + '; attended by ' + top(p.map(function (r) { return r[i]; }));
    }
    function select(k) {
      cur = k;
      Array.prototype.forEach.call(heads.children, function (b, j) { b.classList.toggle('sl-active', j === k); });
      var h = d.heads[k], w = fitWidth(plot, d.layout.width);
      plot.style.width = w + 'px';
      track(plot, d.layout.width);
      Plotly.react(plot, [{
        type: 'heatmap', z: h.pattern, x: d.labels, y: d.labels, zmin: 0, zmax: d.max, colorscale: d.blues_scale, xgap: 1, ygap: 1,
        colorbar: { title: { text: 'attention', side: 'right' }, thickness: 12, outlinewidth: 0 },
        hovertemplate: 'dest %{y}<br>src %{x}<br>attention %{z:.4f}<extra>' + h.name + '</extra>'
      }], Object.assign({}, d.layout, { width: w, title: Object.assign({}, d.layout.title, { text: h.name }) }), d.config);
      focus(-1);
    }
    select(0);
  }

  function neurons(id, d) {
    var root = document.getElementById(id), sel = document.getElementById(id + '-sel'), box = root.querySelector('.sl-ntext'), tip = document.getElementById(id + '-tip');
    var lo = d.min, hi = d.max, spans = [];
    d.neurons.forEach(function (nm, k) { var o = document.createElement('option'); o.value = k; o.textContent = nm; sel.appendChild(o); });
    root.querySelector('.sl-legend-min').textContent = fmt(lo); root.querySelector('.sl-legend-max').textContent = fmt(hi);
    root.querySelector('.sl-legend-bar').style.background = 'linear-gradient(to right,' + d.scale.join(',') + ')';
    d.prompts.forEach(function (p, pi) {
      var line = document.createElement('div'); line.className = 'sl-prompt';
      line.appendChild(span('sl-prompt-no', '#' + pi));
      p.tokens.forEach(function (t, ti) {
        var s = span('sl-ntok', show(t)); s.id = id + '-p' + pi + '-t' + ti; s.dataset.p = pi; s.dataset.t = ti;
        s.addEventListener('mouseenter', function () { hover(s); }); s.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
        line.appendChild(s); spans.push(s);
      });
      box.appendChild(line);
    });
    function val(s) { return d.prompts[+s.dataset.p].activations[+sel.value][+s.dataset.t]; }
    function hover(s) {
      var v = val(s), r = s.getBoundingClientRect(), rr = root.getBoundingClientRect();
      tip.textContent = '\u201c' + show(d.prompts[+s.dataset.p].tokens[+s.dataset.t]) + '\u201d  ' + d.neurons[+sel.value] + ' = ' + fmt(v);
      tip.style.left = (r.left - rr.left) + 'px'; tip.style.top = (r.top - rr.top - 30) + 'px'; tip.style.display = 'block';
    }
    function render() {
      spans.forEach(function (s) {
        var v = val(s), c = colorAt(d.scale, (v - lo) / (hi - lo || 1));
        s.style.background = css(c); s.style.color = dark(c) ? 'white' : '#111';
        s.title = show(d.prompts[+s.dataset.p].tokens[+s.dataset.t]) + ': ' + fmt(v);
      });
    }
    sel.addEventListener('change', render);
    render();
  }

  return { plot: plot, attention: attention, neurons: neurons, colorAt: colorAt };
})();
