// The charting library, tree-shaken to the charts the dashboards use.
import * as echarts from 'echarts/core';
import { BarChart, LineChart, HeatmapChart, PieChart } from 'echarts/charts';
import { GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, GraphicComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, HeatmapChart, PieChart, GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, GraphicComponent, CanvasRenderer]);

export const palette = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#0ea5e9', '#64748b'];
const font = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif';

// Chart owns one ECharts instance in el and resizes it with its box.
export class Chart {
  constructor(el) {
    this.el = el;
    this.chart = echarts.init(el, null, { renderer: 'canvas' });
    this.ro = new ResizeObserver(() => this.chart.resize());
    this.ro.observe(el);
    // A chart's text is drawn on a canvas: the end-to-end tests read the
    // labels from the option instead.
    el.sunlightChart = this;
  }

  set(option, empty) {
    this.el.dataset.rendered = empty ? 'empty' : 'data';
    this.option = option;
    this.chart.setOption({ color: palette, textStyle: { fontFamily: font }, animationDuration: 300, ...option }, true);
  }

  dispose() {
    this.ro.disconnect();
    this.chart.dispose();
  }
}
