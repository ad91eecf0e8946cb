/// The report's Mustache template (kept in the binary: the report never depends on a file
/// beside it). `{{x}}` is HTML-escaped; only the charts' SVG, which `TimeChart` escapes itself,
/// is inserted raw (`{{{svg}}}`, `{{{swatch}}}`).
enum ReportTemplate {
    static let html = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>bulkreg report — {{database}}</title>
        <style>
        :root { color-scheme: light; }
        * { box-sizing: border-box; }
        body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
               color: #111827; background: #fff; margin: 0 auto; max-width: 980px; padding: 16px 20px 48px; }
        h1 { font-size: 1.5rem; margin: 0 0 4px; }
        h2 { font-size: 1.15rem; margin: 32px 0 8px; border-bottom: 2px solid #111827; padding-bottom: 3px; }
        h3 { font-size: 1rem; margin: 18px 0 6px; }
        p.meta { color: #4b5563; margin: 0 0 12px; }
        p.headline { font-size: 1.05rem; font-weight: 600; }
        .scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
        table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
        th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
        th { background: #f3f4f6; font-weight: 600; }
        td.n, th.n { text-align: right; white-space: nowrap; }
        table.states { width: auto; min-width: 260px; }
        .total { font-size: 1.1rem; }
        figure { margin: 12px 0 24px; break-inside: avoid; page-break-inside: avoid; }
        figcaption { color: #374151; font-size: .92rem; margin-top: 4px; }
        svg.chart { width: 100%; height: auto; display: block; border: 1px solid #e5e7eb; }
        svg.chart text { font: 11px system-ui, sans-serif; fill: #374151; }
        svg.chart text.limit-label { fill: #b91c1c; font-weight: 600; }
        ul.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: .9rem; }
        ul.legend li { display: flex; align-items: center; gap: 6px; }
        .key { display: inline-block; width: 22px; height: 10px; vertical-align: middle; }
        .hatch { background: repeating-linear-gradient(45deg, #f3f4f6 0 3px, #9ca3af 3px 5px); border: 1px solid #9ca3af; }
        .mark { color: #dc2626; }
        .reason { max-width: 36em; overflow-wrap: anywhere; }
        table.leads td.reason { min-width: 14em; }
        table.leads td.email { overflow-wrap: anywhere; min-width: 10em; }
        table.leads td.nowrap { white-space: nowrap; }
        .empty { color: #4b5563; font-style: italic; }
        code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
        @media (max-width: 600px) {
          body { padding: 10px; font-size: 14px; } th, td { padding: 3px 5px; }
          /* A chart keeps readable labels on a phone: it scrolls sideways instead of shrinking. */
          svg.chart { min-width: 560px; }
        }
        @media print {
          body { max-width: none; padding: 0; font-size: 11pt; }
          h2 { break-after: avoid; page-break-after: avoid; }
          tr { break-inside: avoid; page-break-inside: avoid; }
          .scroll { overflow: visible; }
          th { background: none; }
        }
        </style>
        </head>
        <body>
        <header>
        <h1>bulkreg report</h1>
        <p class="meta">Database <code>{{database}}</code> · generated {{generatedAt}} (times in UTC){{#period}} · calls {{period}}{{/period}}</p>
        <p class="headline">{{headline}}</p>
        </header>

        <main>
        <section aria-labelledby="totals">
        <h2 id="totals">Totals</h2>
        <p class="total">Input rows accounted for: <strong id="total" data-count="{{total}}">{{totalText}}</strong></p>
        <div class="scroll"><table class="states">
        <caption class="empty" style="caption-side: bottom; text-align: left">Every input row is one job in one state.</caption>
        <thead><tr><th scope="col">state</th><th scope="col" class="n">rows</th></tr></thead>
        <tbody>
        {{#states}}<tr><th scope="row">{{state}}</th><td class="n" id="{{id}}" data-count="{{raw}}">{{count}}</td></tr>
        {{/states}}
        </tbody></table></div>
        {{#hasTargets}}
        <h3>Per webinar / schedule</h3>
        <div class="scroll"><table>
        <thead><tr><th scope="col">platform webinar / schedule</th>{{#stateNames}}<th scope="col" class="n">{{value}}</th>{{/stateNames}}</tr></thead>
        <tbody>
        {{#targets}}<tr><th scope="row">{{target}}</th>{{#cells}}<td class="n">{{value}}</td>{{/cells}}</tr>
        {{/targets}}
        </tbody></table></div>
        {{/hasTargets}}
        </section>

        <section aria-labelledby="over-time">
        <h2 id="over-time">Over time</h2>
        {{#hasCharts}}
        <p>Each point is an average over one time bucket. <span class="key hatch" aria-hidden="true"></span> hatched bands
        are outages (ten or more calls in a row without a working answer, or three lasting five seconds or more,
        until the next answer);
        <span class="mark" aria-hidden="true">▲</span> red marks under the time axis are buckets with 429 answers.</p>
        {{#charts}}
        <figure>
        <div class="scroll">{{{svg}}}</div>
        <figcaption><strong>{{title}}.</strong> {{caption}}
        <ul class="legend">{{#legend}}<li>{{{swatch}}}<span>{{name}}</span></li>{{/legend}}</ul>
        </figcaption>
        </figure>
        {{/charts}}
        {{/hasCharts}}
        {{^hasCharts}}<p class="empty">{{headline}}</p>{{/hasCharts}}
        <h3>Outages</h3>
        {{#hasOutages}}
        <div class="scroll"><table>
        <thead><tr><th scope="col">from</th><th scope="col">to</th><th scope="col" class="n">length</th><th scope="col" class="n">calls</th><th scope="col">first reason</th></tr></thead>
        <tbody>
        {{#outages}}<tr><td>{{from}}</td><td>{{to}}</td><td class="n">{{length}}</td><td class="n">{{calls}}</td><td class="reason">{{reason}}</td></tr>
        {{/outages}}
        </tbody></table></div>
        {{/hasOutages}}
        {{^hasOutages}}<p class="empty">None recorded.</p>{{/hasOutages}}
        <p>429 answers: {{rateLimited}}.{{#checks}} Registrants checks: {{checks}}.{{/checks}}</p>
        </section>

        <section aria-labelledby="leads">
        <h2 id="leads">Failed and uncertain leads</h2>
        {{#leadsNote}}<p>{{leadsNote}}</p>{{/leadsNote}}
        {{#hasLeads}}
        <div class="scroll"><table class="leads">
        <thead><tr><th scope="col" class="n">job</th><th scope="col">state</th><th scope="col">email</th><th scope="col">reason</th><th scope="col">webinar / schedule</th><th scope="col">file:line</th><th scope="col" class="n">attempts</th></tr></thead>
        <tbody>
        {{#leads}}<tr><td class="n">{{job}}</td><td>{{state}}</td><td class="email">{{email}}</td><td class="reason">{{reason}}</td><td class="nowrap">{{target}}</td><td>{{source}}</td><td class="n">{{attempts}}</td></tr>
        {{/leads}}
        </tbody></table></div>
        <p><code>bulkreg show JOB</code> tells one lead's whole story; <code>bulkreg retry</code> queues failed leads again.</p>
        {{/hasLeads}}
        {{^hasLeads}}<p class="empty">None.</p>{{/hasLeads}}
        </section>

        <section aria-labelledby="imports">
        <h2 id="imports">Imports</h2>
        {{#hasImports}}
        <div class="scroll"><table>
        <thead><tr><th scope="col" class="n">#</th><th scope="col">file</th><th scope="col">imported</th><th scope="col" class="n">rows</th><th scope="col" class="n">queued</th><th scope="col" class="n">rejected</th><th scope="col" class="n">duplicates</th><th scope="col" class="n">blank</th><th scope="col" class="n">updated</th></tr></thead>
        <tbody>
        {{#imports}}<tr><td class="n">{{id}}</td><td>{{file}}</td><td>{{importedAt}}</td><td class="n">{{rows}}</td><td class="n">{{queued}}</td><td class="n">{{rejected}}</td><td class="n">{{duplicates}}</td><td class="n">{{blank}}</td><td class="n">{{updated}}</td></tr>
        {{/imports}}
        </tbody></table></div>
        {{#imports}}{{#hasReasons}}
        <h3>Import #{{id}} ({{file}}): rejected rows by reason</h3>
        <div class="scroll"><table>
        <thead><tr><th scope="col">reason</th><th scope="col" class="n">rows</th></tr></thead>
        <tbody>
        {{#reasons}}<tr><td class="reason">{{reason}}</td><td class="n">{{count}}</td></tr>
        {{/reasons}}
        </tbody></table></div>
        {{#otherReasons}}<p>{{otherReasons}}.</p>{{/otherReasons}}
        {{/hasReasons}}{{/imports}}
        {{/hasImports}}
        {{^hasImports}}<p class="empty">No imports yet.</p>{{/hasImports}}
        </section>
        </main>
        <footer><p class="meta">Made by <code>bulkreg report</code>. This page needs no network and holds personal data
        (the failed leads' emails): share it as you would the list.</p></footer>
        </body>
        </html>

        """#
}
