/* SharpLens explorer: the page's state lives in the URL; every view is drawn from the server's answers with the
   reports' own figure code (Plotly and SL widgets). No external requests. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var model = null, lastJob = null, doneJob = null, source = null;
  // head and neuron: the canonical names the server answered with (e.g. "L7H11"); the server reads them back.
  var state = { head: null, neuron: null, patched: false };

  // ---- errors -------------------------------------------------------------------------------------------------
  function showError(message) { var e = $('error'); e.textContent = message; e.hidden = false; }
  function clearError() { $('error').hidden = true; $('error').textContent = ''; }

  function api(path, body) {
    return fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) {
        return r.text().then(function (text) {
          var json; try { json = JSON.parse(text); } catch (e) { json = { error: 'the server answered ' + r.status + ' ' + r.statusText }; }
          if (!r.ok) throw new Error(json.error || ('the server answered ' + r.status));
          return json;
        });
      });
  }

  // ---- figures: the reports' HTML fragments; their inline scripts are re-created so they run -----------------
  function renderFigures(container, figures) {
    container.innerHTML = '';
    appendFigures(container, figures);
  }

  function appendFigures(container, figures) {
    (figures || []).forEach(function (f) {
      var div = document.createElement('div'); div.className = 'ex-figure'; div.dataset.figure = f.id;
      div.innerHTML = f.html; container.appendChild(div);
      div.querySelectorAll('script').forEach(function (old) {
        var s = document.createElement('script'); s.textContent = old.textContent; old.replaceWith(s);
      });
    });
  }

  function onClick(id, handler) {
    var gd = $(id);
    if (gd && gd.on) gd.on('plotly_click', function (ev) { if (ev && ev.points && ev.points.length) handler(ev.points[0], gd); });
  }

  // ---- input --------------------------------------------------------------------------------------------------
  function lines(id) { return $(id).value.split('\n').map(function (l) { return l.replace(/\r$/, ''); }).filter(function (l) { return l.trim().length > 0; }); }

  // An answer line as users type it: two quoted tokens ("'re", " are" or "'re" " are"), or, unquoted, two tokens
  // split at the one comma with every space kept ('re, are is "'re" and " are", as the CLI's comma lists read).
  function answerPair(line, i) {
    var where = 'answers line ' + (i + 1) + ' (' + line.trim() + ')';
    if (/^\s*"/.test(line)) {
      var quoted = line.match(/"(?:[^"\\]|\\.)*"/g) || [], rest = line.replace(/"(?:[^"\\]|\\.)*"/g, '');
      if (quoted.length !== 2 || /[^\s,]/.test(rest)) throw new Error(where + ' must be two quoted tokens, "correct", "wrong": e.g. "\'re", " are"');
      return quoted.map(function (q) { return JSON.parse(q); });
    }
    var parts = line.split(',');
    if (parts.length !== 2 || parts[0].length === 0 || parts[1].length === 0)
      throw new Error(where + ' must be correct,wrong with one comma (spaces count: \'re, are is "\'re" and " are"), or two quoted tokens: "\'re", " are"');
    return parts;
  }

  // Shows how each answer line is read: tokens in brackets, a leading space as a visible dot.
  function showAnswerFormat() {
    var shown = lines('answers').map(function (line, i) {
      try { return answerPair(line, i).map(function (t) { return '[' + t.replace(/ /g, '\u00b7') + ']'; }).join(' vs '); }
      catch (e) { return e.message; }
    });
    $('answers-read').textContent = shown.length ? 'read as: ' + shown.join('; ') : '';
  }

  function input() {
    var prompts = lines('prompts');
    if (prompts.length === 0) throw new Error('type a prompt first');
    var answers = lines('answers').map(answerPair);
    var data = { clean: prompts, answers: answers };
    if ($('swap').checked) data.corrupted = 'swap_pairs';
    else if (lines('corrupted').length > 0) data.corrupted = lines('corrupted');
    return data;
  }

  // ---- URL state ----------------------------------------------------------------------------------------------
  function kinds() { return Array.prototype.filter.call(document.querySelectorAll('#patch-kinds input'), function (c) { return c.checked; }).map(function (c) { return c.value; }); }

  function stateUrl() {
    var q = new URLSearchParams();
    if ($('prompts').value.trim()) q.set('p', $('prompts').value.trim());
    if ($('answers').value.trim()) q.set('a', $('answers').value.trim());
    if ($('corrupted').value.trim()) q.set('c', $('corrupted').value.trim());
    if ($('swap').checked) q.set('swap', '1');
    if (state.head) q.set('head', state.head);
    if (state.neuron) q.set('neuron', state.neuron);
    q.set('kinds', kinds().join(','));
    if ($('neuron-layers').value.trim()) q.set('nl', $('neuron-layers').value.trim());
    q.set('method', $('method').value);
    if (state.patched) q.set('patch', '1');
    return location.pathname + '?' + q.toString();
  }

  function saveUrl() { var url = stateUrl(); history.replaceState(null, '', url); $('share').href = url; }

  function loadUrl() {
    var q = new URLSearchParams(location.search);
    $('prompts').value = q.get('p') || '';
    $('answers').value = q.get('a') || '';
    $('corrupted').value = q.get('c') || '';
    $('swap').checked = q.get('swap') === '1';
    if (q.get('kinds') !== null) {
      var wanted = q.get('kinds').split(',');
      document.querySelectorAll('#patch-kinds input').forEach(function (c) { c.checked = wanted.indexOf(c.value) >= 0; });
    }
    $('neuron-layers').value = q.get('nl') || '';
    if (q.get('method')) $('method').value = q.get('method');
    state.head = q.get('head');
    state.neuron = q.get('neuron');
    return q;
  }

  // ---- prediction and attribution -----------------------------------------------------------------------------
  function analyse() {
    clearError();
    var data;
    try { data = input(); } catch (e) { showError(e.message); return Promise.resolve(); }
    saveUrl();
    var first = data.answers[0] || [];
    var predicted = api('/api/predict', { prompt: data.clean[0], answers: first, top_k: 10 }).then(showPrediction);
    var attributed = data.answers.length ? api('/api/attribute', { input: data }).then(showAttribution) : Promise.resolve();
    return Promise.all([predicted, attributed]).then(function () {
      var views = [];
      if (state.head) views.push(showHead({ name: state.head }));
      if (state.neuron) views.push(showNeuron({ name: state.neuron }));
      return Promise.all(views);
    }).catch(function (e) { showError(e.message); });
  }

  function showPrediction(r) {
    $('prediction').hidden = false;
    var box = $('tokens'); box.innerHTML = '';
    r.str_tokens.forEach(function (t, i) {
      var s = document.createElement('span'); s.className = 'ex-tok'; s.id = 'tok-' + i; s.textContent = t;
      var n = document.createElement('small'); n.textContent = r.tokens[i]; s.appendChild(n); box.appendChild(s);
    });
    $('answer-ranks').innerHTML = '';
    r.answers.forEach(function (a, i) {
      var d = document.createElement('div'); d.className = 'ex-rank'; d.id = 'answer-' + i;
      d.textContent = '\u201c' + a.token + '\u201d  rank ' + a.rank + '  logit ' + a.logit.toFixed(3) + '  prob ' + (100 * a.prob).toFixed(2) + '%';
      $('answer-ranks').appendChild(d);
    });
    renderFigures($('prediction-figures'), r.figures);
  }

  function showAttribution(r) {
    $('attribution').hidden = false;
    $('logit-diff').textContent = 'logit difference (correct - wrong), mean over prompts: ' + r.clean_logit_diff.toFixed(4);
    var chips = $('top-heads'); chips.innerHTML = 'Top heads: ';
    r.top_heads.forEach(function (h) {
      var b = document.createElement('button'); b.type = 'button'; b.id = 'top-head-' + h.name;
      b.textContent = h.name + ' ' + h.value.toFixed(3); b.addEventListener('click', function () { showHead({ name: h.name }); });
      chips.appendChild(b);
    });
    renderFigures($('attribution-figures'), r.figures);
    onClick('dla-heads', function (p) { showHead({ layer: +p.y, head: +p.x }); });
    onClick('dla-neurons', function (p) { showNeuron({ name: String(p.x) }); });
  }

  // ---- a head and a neuron ------------------------------------------------------------------------------------
  function firstPrompt() { var p = lines('prompts'); if (!p.length) throw new Error('type a prompt first'); return p[0]; }

  // A view of one head or neuron on the first prompt: request, then draw; errors go to the banner.
  function view(path, body, draw) {
    clearError();
    try { body.prompt = firstPrompt(); } catch (e) { showError(e.message); return Promise.resolve(); }
    return api(path, body).then(draw).catch(function (e) { showError(e.message); });
  }

  // body: { name: "L7H11" } (any form the server reads) or { layer: 7, head: 11 }.
  function showHead(body) {
    return view('/api/head', body, function (r) {
      state.head = r.name; saveUrl();
      $('head-view').hidden = false;
      $('head-title').textContent = 'Head ' + r.name;
      var sv = r.ov.singular_values.slice(0, 8).map(function (v) { return v.toFixed(4); }).join(', ');
      var words = function (list) { return list.map(function (t) { return '\u201c' + t.token + '\u201d ' + t.value.toFixed(2); }).join(', '); };
      $('head-ov').innerHTML = '';
      [['head-ov-norm', 'OV circuit W_V\u00b7W_O: Frobenius norm ' + r.ov.frobenius_norm.toFixed(4) + '; top singular values ' + sv],
       ['head-ov-qk', 'QK circuit: Frobenius norm ' + r.ov.qk_frobenius_norm.toFixed(4) + '; copying score (full OV eigenvalues) ' + r.ov.copying_score.toFixed(3)],
       ['head-ov-readout', 'attending to \u201c' + r.ov.readout.source + '\u201d (position ' + r.ov.readout.position + ', most attended from the final token) it boosts ' +
         words(r.ov.readout.top) + '; suppresses ' + words(r.ov.readout.bottom)]].forEach(function (line) {
        var d = document.createElement('div'); d.id = line[0]; d.textContent = line[1]; $('head-ov').appendChild(d);
      });
      renderFigures($('head-figures'), r.figures);
      $('head-view').scrollIntoView({ block: 'nearest' });
    });
  }

  // body: { name: "L8N2744" } or { layer: 8, neuron: 2744 }.
  function showNeuron(body) {
    return view('/api/neuron', body, function (r) {
      state.neuron = r.name; saveUrl();
      $('neuron-view').hidden = false;
      $('neuron-title').textContent = 'Neuron ' + r.name;
      var box = $('neuron-values'); box.innerHTML = '';
      r.str_tokens.forEach(function (t, i) {
        var s = document.createElement('span'); s.className = 'ex-tok'; s.id = 'act-' + i; s.textContent = t;
        var n = document.createElement('small'); n.textContent = r.activations[i].toFixed(4); s.appendChild(n); box.appendChild(s);
      });
      renderFigures($('neuron-figures'), r.figures);
      var link = $('neuron-page-link');
      link.hidden = !r.page; if (r.page) link.href = r.page;
    });
  }

  // ---- patching -----------------------------------------------------------------------------------------------
  function patch() {
    clearError();
    var data;
    try { data = input(); } catch (e) { showError(e.message); return; }
    var layers = $('neuron-layers').value.split(',').map(function (s) { return s.trim(); }).filter(function (s) { return s.length; });
    for (var i = 0; i < layers.length; i++) if (!/^\d+$/.test(layers[i])) { showError('neuron layers must be numbers such as 8,10, not "' + layers[i] + '"'); return; }
    var body = { input: data, kinds: kinds(), method: $('method').value };
    if (layers.length) body.neuron_layers = layers.map(Number);
    state.patched = true; saveUrl();
    if (source) source.close();
    $('patch-status').textContent = 'queued';
    $('patch-progress').value = 0;
    // Each kind appears as soon as it is done ("partial" events); the last run's figures go now.
    $('patch-figures').innerHTML = ''; $('cell-details').hidden = true;
    api('/api/patch', body).then(function (job) {
      lastJob = job.job; $('patch-cancel').disabled = false;
      source = new EventSource('/api/jobs/' + encodeURIComponent(job.job) + '/events');
      source.addEventListener('progress', function (ev) { progress(JSON.parse(ev.data)); });
      source.addEventListener('partial', function (ev) { showPartial(JSON.parse(ev.data)); });
      source.addEventListener('result', function (ev) { finished(); var r = JSON.parse(ev.data); doneJob = r.job; progress(r); showPatch(r); });
      source.addEventListener('failed', function (ev) { finished(); var r = JSON.parse(ev.data); $('patch-status').textContent = 'failed'; showError(r.error); });
      source.addEventListener('cancelled', function () { finished(); $('patch-status').textContent = 'cancelled'; });
      source.onerror = function () { if (source && source.readyState === EventSource.CLOSED) finished(); };
    }).catch(function (e) { $('patch-status').textContent = ''; showError(e.message); });
  }

  function finished() { if (source) source.close(); source = null; $('patch-cancel').disabled = true; }

  function progress(s) {
    var bar = $('patch-progress');
    bar.max = Math.max(1, s.total); bar.value = s.done;
    $('patch-status').textContent = s.state === 'queued' ? 'queued (' + s.ahead + ' ahead)'
      : s.state === 'done' ? 'done' : (s.sweep || '') + ' ' + s.done + ' / ' + s.total;
  }

  // One kind finished while the others are still running: draw its heatmap now.
  function showPartial(r) {
    var box = $('patch-figures');
    if (box.querySelector('[data-figure="patch-' + r.key + '"]')) return;
    var grids = {}; grids[r.key] = r.grid;
    appendFigures(box, r.figures);
    wirePatchFigures(r.figures, grids);
  }

  // The final result: every grid, drawn unless its partial already is.
  function showPatch(r) {
    var box = $('patch-figures');
    var missing = r.figures.filter(function (f) { return !box.querySelector('[data-figure="' + f.id + '"]'); });
    appendFigures(box, missing);
    wirePatchFigures(missing, r.result);
  }

  function wirePatchFigures(figures, grids) {
    figures.forEach(function (f) {
      var key = f.id.substring('patch-'.length), grid = grids[key];
      onClick(f.id, function (p, gd) {
        var row = p.data && p.data.type === 'heatmap' ? p.y : (p.data ? p.data.name : p.y), col = p.x;
        var cell = details(key, grid, String(row), String(col));
        // The server says what each cell patches (grid.components: kind, each row's layer, each column's index).
        var c = grid.components;
        if (!cell || !c) return;
        var layer = c.row_layers[cell.row], index = c.col_indices[cell.col];
        if (c.kind === 'neuron') showNeuron({ layer: layer, neuron: index });
        else if (c.kind === 'head') showHead({ layer: layer, head: index });
      });
    });
  }

  function details(key, grid, row, col) {
    var ri = grid.rows.indexOf(row), ci = grid.cols.indexOf(col);
    if (ri < 0 || ci < 0) return null;
    var box = $('cell-details'); box.hidden = false; box.innerHTML = '';
    var title = document.createElement('div'); title.id = 'cell-title';
    title.textContent = key + ': ' + (grid.row_title || 'row') + ' ' + row + ', ' + (grid.col_title || 'col') + ' ' + col +
      ' = ' + grid.values[ri][ci].toFixed(4) + ' (mean over prompts)';
    box.appendChild(title);
    (grid.per_prompt || []).forEach(function (pp, i) {
      var d = document.createElement('div'); d.className = 'ex-cell-prompt'; d.textContent = 'prompt ' + i + ': ' + pp[ri][ci].toFixed(4); box.appendChild(d);
    });
    return { row: ri, col: ci };
  }

  function cancel() {
    if (!lastJob) return;
    api('/api/jobs/' + encodeURIComponent(lastJob) + '/cancel', {}).catch(function (e) { showError(e.message); });
  }

  // ---- export -------------------------------------------------------------------------------------------------
  function exportReport() {
    clearError();
    var data; try { data = input(); } catch (e) { showError(e.message); return; }
    var body = { input: data };
    if (state.head) body.view_head = state.head;
    if (state.neuron) body.view_neuron = state.neuron;
    if (doneJob) body.job = doneJob;
    $('export-status').textContent = 'writing...';
    api('/api/export', body).then(function (r) { $('export-status').textContent = 'wrote ' + r.folder + ' (' + r.figures + ' figures; open ' + r.index + ')'; })
      .catch(function (e) { $('export-status').textContent = ''; showError(e.message); });
  }

  // ---- start --------------------------------------------------------------------------------------------------
  function start(info) {
    model = info;
    $('model-name').textContent = info.name + ' \u00b7 ' + info.n_layers + ' layers \u00b7 ' + info.n_heads + ' heads';
    // The kinds and which are ticked come from the server (SweepNames), never from a copy here.
    info.patch_kinds.forEach(function (k) {
      var l = document.createElement('label'), c = document.createElement('input');
      c.type = 'checkbox'; c.value = k; c.id = 'kind-' + k; c.checked = info.patch_default_kinds.indexOf(k) >= 0;
      l.appendChild(c); l.appendChild(document.createTextNode(' ' + k)); $('patch-kinds').appendChild(l);
    });
    $('input-form').addEventListener('submit', function (ev) { ev.preventDefault(); analyse(); });
    $('patch-run').addEventListener('click', patch);
    $('patch-cancel').addEventListener('click', cancel);
    $('export').addEventListener('click', exportReport);
    var q = loadUrl();
    // A first visit opens with the study's example (the server's), so the form shows what it expects.
    if (!location.search && info.example && info.tokenizer) {
      $('prompts').value = info.example.clean.join('\n');
      $('answers').value = info.example.answers.map(function (a) { return JSON.stringify(a[0]) + ', ' + JSON.stringify(a[1]); }).join('\n');
      if (info.example.corrupted === 'swap_pairs') $('swap').checked = true;
      else $('corrupted').value = (info.example.corrupted || []).join('\n');
    }
    $('answers').addEventListener('input', showAnswerFormat);
    showAnswerFormat();
    $('share').href = stateUrl();
    var ready = $('prompts').value.trim() ? analyse() : Promise.resolve();
    ready.then(function () { if (q.get('patch') === '1') patch(); document.body.dataset.ready = '1'; });
  }

  fetch('/api/model').then(function (r) { return r.json(); }).then(start).catch(function (e) { showError('cannot reach the explorer server: ' + e.message); });
})();
