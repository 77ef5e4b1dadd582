// Agora web UI: DOM helpers and a live, keyed table (sort, filter, groups,
// pages) that updates rows in place. Every value from the cluster reaches
// the page as a text node or an attribute set through the DOM, never as
// markup: there is no innerHTML in this UI.
'use strict';

/** Returns a new element `tag` with `props` (class, href, title, dataset,
 *  on* handlers, other attributes) and `children` (nodes or strings, added
 *  as text). */
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Sets `node`'s text to `text` only when it changed (keeps selections). */
function setText(node, text) {
  const s = text === undefined || text === null ? '' : String(text);
  if (node.textContent !== s) node.textContent = s;
}

/** Sets attribute `name` of `node` to `value` only when it changed. */
function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

/** Makes `td` hold one link to `href` with text `text`, updating in place. */
function setLink(td, href, text) {
  let a = td.firstChild;
  if (!a || a.nodeName !== 'A' || td.childNodes.length !== 1) {
    td.textContent = '';
    a = td.appendChild(el('a'));
  }
  setAttr(a, 'href', href);
  setText(a, text);
}

/** Makes `td` hold a utilisation bar of `used / total` with a label. */
function setBar(td, used, total, label) {
  if (!td.firstChild) {
    td.appendChild(el('span', {class: 'util'}, el('span')));
    td.appendChild(el('span', {class: 'util-label'}));
  }
  const f = total > 0 ? Math.min(1, used / total) : 0;
  const bar = td.firstChild;
  const width = (f * 100).toFixed(1) + '%';
  if (bar.firstChild.style.width !== width) bar.firstChild.style.width = width;
  bar.classList.toggle('high', f >= 0.9);
  setText(td.lastChild, label);
}

const collator = new Intl.Collator(undefined, {numeric: true, sensitivity: 'base'});

/** Compares two values: numbers numerically, strings naturally (S2 < S10). */
function naturalCompare(a, b) {
  const na = typeof a === 'number', nb = typeof b === 'number';
  if (na && nb) return a - b;
  if (na !== nb) return na ? -1 : 1;
  return collator.compare(a === undefined || a === null ? '' : String(a),
                          b === undefined || b === null ? '' : String(b));
}

// Remembered per table id, so that filters, sorting and the page survive
// navigation between pages.
const tableMemory = new Map();

/**
 * A table whose rows are keyed: `setRows` re-sorts, filters and pages the
 * rows, reuses the `<tr>` of each key and touches only cells whose text
 * changed. Options:
 *   id: remembers filter, sort and page under this name;
 *   columns: [{key, title, value(row), render(td, row)?, num?, wrap?}];
 *   rowKey(row), rowClass(row)?, groupBy(row)? (a header row per group),
 *   searchText(row)? (defaults to the columns' values), pageSize (50),
 *   sort: {key, dir} initially, fixedOrder: keep the rows' order,
 *   empty: text when there is nothing.
 */
class LiveTable {
  constructor(container, opts) {
    this.opts = opts;
    this.rows = [];
    const mem = tableMemory.get(opts.id) ||
        {q: '', sort: opts.sort || {key: opts.columns[0].key, dir: 1}, page: 0,
         pageSize: opts.pageSize || 50};
    tableMemory.set(opts.id, mem);
    this.mem = mem;
    this.search = el('input', {type: 'search', class: 'form-control form-control-sm',
                               placeholder: opts.placeholder || 'Filter', 'aria-label': 'Filter',
                               'data-role': 'filter'});
    this.search.value = mem.q;
    this.search.addEventListener('input', () => { mem.q = this.search.value; mem.page = 0; this.render(); });
    this.info = el('span', {class: 'text-muted small', 'data-role': 'count'});
    this.prev = el('button', {class: 'btn btn-sm btn-outline-secondary', text: '‹ Prev',
                              onclick: () => { mem.page--; this.render(); }});
    this.next = el('button', {class: 'btn btn-sm btn-outline-secondary', text: 'Next ›',
                              onclick: () => { mem.page++; this.render(); }});
    this.sizeSelect = el('select', {class: 'form-select form-select-sm w-auto', 'aria-label': 'Rows per page'},
        [25, 50, 100, 250, 1000].map(n => el('option', {value: n, selected: n === mem.pageSize}, n + ' / page')));
    this.sizeSelect.addEventListener('change', () => {
      mem.pageSize = Number(this.sizeSelect.value); mem.page = 0; this.render();
    });
    this.extra = el('span', {class: 'd-flex gap-2'});
    container.appendChild(el('div', {class: 'toolbar'}, this.search, this.extra, this.info,
                             this.prev, this.next, this.sizeSelect));
    this.headers = opts.columns.map(c => {
      const th = el('th', {class: 'sortable' + (c.num ? ' num' : ''), scope: 'col', text: c.title,
                           dataset: {key: c.key}});
      th.addEventListener('click', () => {
        mem.sort = {key: c.key, dir: mem.sort.key === c.key ? -mem.sort.dir : (c.num ? -1 : 1)};
        this.render();
      });
      return th;
    });
    this.tbody = el('tbody');
    this.table = el('table', {class: 'table table-sm table-hover align-middle', id: opts.id},
                    el('thead', {class: 'table-light'}, el('tr', {}, this.headers)), this.tbody);
    container.appendChild(el('div', {class: 'table-responsive'}, this.table));
    this.trs = new Map();
    // Filters of the page outside the search box (e.g. a state select).
    this.predicate = null;
  }

  setRows(rows) { this.rows = rows; this.render(); }

  setPredicate(fn) { this.predicate = fn; this.mem.page = 0; this.render(); }

  render() {
    const {columns, rowKey, rowClass, groupBy} = this.opts;
    const mem = this.mem;
    const q = mem.q.trim().toLowerCase();
    const text = this.opts.searchText || (r => columns.map(c => c.value(r)).join(' '));
    let rows = this.rows.filter(r => (!this.predicate || this.predicate(r)) &&
                                     (!q || text(r).toLowerCase().includes(q)));
    const col = columns.find(c => c.key === mem.sort.key) || columns[0];
    const dir = mem.sort.dir;
    if (!this.opts.fixedOrder) rows.sort((a, b) => {
      if (groupBy) {
        const g = naturalCompare(groupBy(a), groupBy(b));
        if (g) return g;
      }
      return dir * naturalCompare(col.value(a), col.value(b)) ||
             naturalCompare(rowKey(a), rowKey(b));
    });
    const total = rows.length;
    const pages = Math.max(1, Math.ceil(total / mem.pageSize));
    mem.page = Math.min(Math.max(0, mem.page), pages - 1);
    const first = mem.page * mem.pageSize;
    rows = rows.slice(first, first + mem.pageSize);
    setText(this.info, total === 0 ? (this.opts.empty || 'nothing to show')
        : `${first + 1}–${first + rows.length} of ${total}` +
          (total !== this.rows.length ? ` (filtered from ${this.rows.length})` : ''));
    this.prev.disabled = mem.page === 0;
    this.next.disabled = mem.page >= pages - 1;
    for (const th of this.headers) {
      th.classList.toggle('asc', th.dataset.key === mem.sort.key && dir > 0);
      th.classList.toggle('desc', th.dataset.key === mem.sort.key && dir < 0);
    }
    // The rows in their new order, reusing each key's <tr>.
    const wanted = [];
    let group;
    const groupSizes = new Map();
    if (groupBy) for (const r of this.rows) groupSizes.set(groupBy(r), (groupSizes.get(groupBy(r)) || 0) + 1);
    for (const r of rows) {
      if (groupBy && groupBy(r) !== group) {
        group = groupBy(r);
        const key = '\u0000group:' + group;
        let tr = this.trs.get(key);
        if (!tr) {
          tr = el('tr', {class: 'group-row'}, el('td', {colspan: columns.length}));
          this.trs.set(key, tr);
        }
        setText(tr.firstChild, `${this.opts.groupTitle || ''}${group} (${groupSizes.get(group)})`);
        wanted.push(tr);
      }
      const key = rowKey(r);
      let tr = this.trs.get(key);
      if (!tr) {
        tr = el('tr', {dataset: {key}}, columns.map(c => el('td', {class: (c.num ? 'num' : '') + (c.wrap ? ' wrap' : '')})));
        this.trs.set(key, tr);
      }
      const cls = rowClass ? rowClass(r) || '' : '';
      if (tr.className !== cls) tr.className = cls;
      columns.forEach((c, i) => {
        const td = tr.children[i];
        if (c.render) c.render(td, r);
        else setText(td, c.format ? c.format(c.value(r), r) : c.value(r));
      });
      wanted.push(tr);
    }
    const keep = new Set(wanted);
    for (const [key, tr] of this.trs) {
      if (!keep.has(tr)) { tr.remove(); this.trs.delete(key); }
    }
    wanted.forEach((tr, i) => {
      if (this.tbody.children[i] !== tr) this.tbody.insertBefore(tr, this.tbody.children[i] || null);
    });
  }
}

/** A two-column key/value table updated in place: `set([[k, v|Node], ...])`. */
class KeyValueTable {
  constructor(container, id) {
    this.tbody = el('tbody');
    container.appendChild(el('table', {class: 'table table-sm kv', id}, this.tbody));
  }
  set(pairs) {
    pairs.forEach(([k, v], i) => {
      let tr = this.tbody.children[i];
      if (!tr) tr = this.tbody.appendChild(el('tr', {}, el('th', {scope: 'row'}), el('td', {class: 'wrap'})));
      setText(tr.firstChild, k);
      const td = tr.lastChild;
      if (v instanceof Node) {
        if (td.firstChild !== v) { td.textContent = ''; td.appendChild(v); }
      } else {
        setText(td, v);
      }
    });
    while (this.tbody.children.length > pairs.length) this.tbody.lastChild.remove();
  }
}
