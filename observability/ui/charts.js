// Agora web UI: small live line charts (d3 v3, Debian's libjs-d3) of
// series kept in the browser.
'use strict';

/** A line chart of `[{t: Date, v: number}]` drawn into `container`;
 *  `opts.format(v)` labels the y axis, `opts.max` fixes its top (e.g. 1 for
 *  ratios). `update(points)` redraws in place. */
class LineChart {
  constructor(container, opts) {
    this.opts = opts || {};
    this.node = container.appendChild(el('div', {class: 'chart'}));
    this.svg = d3.select(this.node).append('svg');
    this.g = this.svg.append('g').attr('transform', 'translate(38,6)');
    this.area = this.g.append('path').attr('class', 'area');
    this.line = this.g.append('path').attr('class', 'line');
    this.xAxis = this.g.append('g').attr('class', 'axis x');
    this.yAxis = this.g.append('g').attr('class', 'axis y');
  }

  update(points) {
    if (!points.length) return;
    const width = Math.max(120, (this.node.clientWidth || 300) - 46);
    const height = 90 - 6 - 18;
    const now = points[points.length - 1].t;
    const x = d3.time.scale().domain([new Date(now - (this.opts.window || 600000)), now]).range([0, width]);
    const top = this.opts.max !== undefined ? this.opts.max : Math.max(1, d3.max(points, p => p.v) * 1.1);
    const y = d3.scale.linear().domain([0, top]).range([height, 0]);
    const line = d3.svg.line().x(p => x(p.t)).y(p => y(p.v));
    const area = d3.svg.area().x(p => x(p.t)).y0(height).y1(p => y(p.v));
    this.line.datum(points).attr('d', line);
    this.area.datum(points).attr('d', area);
    this.xAxis.attr('transform', `translate(0,${height})`)
        .call(d3.svg.axis().scale(x).orient('bottom').ticks(4).tickFormat(d3.time.format('%H:%M')));
    this.yAxis.call(d3.svg.axis().scale(y).orient('left').ticks(3)
        .tickFormat(this.opts.format || d3.format('s')));
  }
}
