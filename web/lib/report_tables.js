// TAVID Evaluate's report as HTML tables: the tables come made from the pack (tavid_core.eval.report_tables),
// so the labels, units and digits are those of `tavid eval`; here they only become HTML.
import { escapeHtml } from "./html.js";

export function reportHtml(tables) {
  if (!tables) return "";
  const heading = (tables.heading ?? []).map((line) => `<div class="tavid-report-heading">${escapeHtml(line)}</div>`);
  const sections = (tables.sections ?? []).map((section) => {
    const heads = ["", ...section.heads, ""].map((h) => `<th>${escapeHtml(h)}</th>`).join("");
    const rows = section.rows.map((row) => {
      const cells = row.cells.map((c) => `<td class="tavid-number">${escapeHtml(c)}</td>`).join("");
      const better = row.better ? `<td class="tavid-better">${escapeHtml(row.better)}</td>` : "<td></td>";
      const label = `<td class="tavid-metric">${escapeHtml(row.label)}</td>`;
      return `<tr title="${escapeHtml(row.meaning ?? "")}">${label}${cells}${better}</tr>`;
    }).join("");
    return `<table class="tavid-report"><caption>${escapeHtml(section.title)}</caption>` +
      `<thead><tr>${heads}</tr></thead><tbody>${rows}</tbody></table>`;
  });
  const footer = tables.footer ? `<div class="tavid-report-footer">${escapeHtml(tables.footer)}</div>` : "";
  return [...heading, ...sections, footer].join("");
}
