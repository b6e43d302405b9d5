// The HTML page of the report (self-contained: inline CSS, inline SVG, plain JavaScript).
#include <sstream>

#include "reports/report/report_detail.hpp"

namespace iscsilab::report::detail {

// A stacked horizontal bar per chapter: observed, violated, never observed.
std::string svg_plot(const Summary& s) {
    const auto keys = ordered(s.by_section);
    const int row = 26, left = 110, width = 520, top = 30;
    const int height = top + static_cast<int>(keys.size()) * row + 30;
    std::size_t widest = 1;
    for (const auto& k : keys) widest = std::max(widest, s.by_section.at(k).total);
    std::ostringstream g;
    g << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"plot-sections\" width=\"" << left + width + 140 << "\" height=\"" << height
      << "\" role=\"img\" aria-label=\"requirements by chapter\">";
    g << "<text x=\"0\" y=\"16\" class=\"axis\">RFC 3720 chapter</text>";
    g << "<rect x=\"" << left << "\" y=\"6\" width=\"12\" height=\"12\" class=\"observed\"/><text x=\"" << left + 16
      << "\" y=\"16\" class=\"axis\">observed</text>";
    g << "<rect x=\"" << left + 100 << "\" y=\"6\" width=\"12\" height=\"12\" class=\"violated\"/><text x=\"" << left + 116
      << "\" y=\"16\" class=\"axis\">violated</text>";
    g << "<rect x=\"" << left + 190 << "\" y=\"6\" width=\"12\" height=\"12\" class=\"never\"/><text x=\"" << left + 206
      << "\" y=\"16\" class=\"axis\">never observed</text>";
    int y = top;
    for (const auto& k : keys) {
        const auto& c = s.by_section.at(k);
        auto w = [&](std::size_t n) { return static_cast<int>(static_cast<double>(n) * width / static_cast<double>(widest)); };
        int x = left;
        g << "<text x=\"0\" y=\"" << y + 16 << "\" class=\"axis\">§" << esc(k) << "</text>";
        g << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w(c.observed) << "\" height=\"20\" class=\"observed\"><title>"
          << c.observed << " observed</title></rect>";
        x += w(c.observed);
        g << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w(c.violated) << "\" height=\"20\" class=\"violated\"><title>"
          << c.violated << " violated</title></rect>";
        x += w(c.violated);
        g << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << w(c.never) << "\" height=\"20\" class=\"never\"><title>"
          << c.never << " never observed</title></rect>";
        x += w(c.never);
        g << "<text x=\"" << x + 6 << "\" y=\"" << y + 15 << "\" class=\"axis\">" << c.observed << " / " << c.total << "</text>";
        y += row;
    }
    g << "</svg>";
    return g.str();
}

std::string counts_row(const std::string& name, const Counts& c) {
    std::ostringstream o;
    o << "<tr><th>" << esc(name) << "</th><td>" << c.total << "</td><td>" << c.observed << "</td><td>" << c.violated << "</td><td>"
      << c.never << "</td><td>" << pct(c.observed, c.total) << "</td></tr>";
    return o.str();
}

const char* CSS = R"(
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #1d2733; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #d6dde5; }
table { border-collapse: collapse; margin: 8px 0 16px; } th, td { padding: 4px 10px; border-bottom: 1px solid #e4e9ef; text-align: left; vertical-align: top; }
td.num, table.figures td { text-align: right; font-variant-numeric: tabular-nums; }
.figures th { font-weight: normal; } .big { font-size: 20px; font-weight: 600; }
svg .observed, .status-observed { fill: #2e8b57; background: #e2f4ea; } svg .violated, .status-violated { fill: #c0392b; background: #fbe3e0; }
svg .never, .status-never { fill: #aab4bf; background: #eef1f4; } svg .axis { font: 12px system-ui, sans-serif; fill: #1d2733; }
.status { padding: 1px 6px; border-radius: 3px; white-space: nowrap; }
.filters button { margin-right: 6px; padding: 4px 10px; border: 1px solid #aab4bf; background: #fff; border-radius: 4px; cursor: pointer; }
.filters button.on { background: #1d2733; color: #fff; }
ul.obs { margin: 0; padding-left: 16px; } code { font-size: 12px; background: #f2f4f7; padding: 0 3px; }
#req-table { width: 100%; table-layout: fixed; } #req-table code { word-break: break-all; }
#req-table th:nth-child(1) { width: 19%; } #req-table th:nth-child(2) { width: 5%; } #req-table th:nth-child(3) { width: 7%; }
#req-table th:nth-child(4) { width: 7%; } #req-table th:nth-child(6) { width: 9%; } #req-table td:first-child { word-break: break-all; }
.muted { color: #687585; } #req-table td:first-child { white-space: nowrap; font-family: ui-monospace, monospace; font-size: 12px; }
)";

const char* SCRIPT = R"(
(function () {
  var buttons = document.querySelectorAll('.filters button');
  var rows = document.querySelectorAll('#req-table tbody tr');
  function show(which) {
    var shown = 0;
    rows.forEach(function (r) {
      var on = which === 'all' || r.getAttribute('data-status') === which;
      r.style.display = on ? '' : 'none';
      if (on) shown++;
    });
    buttons.forEach(function (b) { b.classList.toggle('on', b.getAttribute('data-filter') === which); });
    document.getElementById('shown-count').textContent = shown;
  }
  buttons.forEach(function (b) { b.addEventListener('click', function () { show(b.getAttribute('data-filter')); }); });
  show('all');
})();
)";

std::string html(const Report& rep, const Results& r) {
    const auto& s = rep.summary;
    std::ostringstream h;
    h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      << "<title>iscsilab: RFC 3720 conformance report</title><style>" << CSS << "</style></head><body>\n";
    h << "<h1>RFC 3720 conformance report: iscsilab</h1>\n<p class=\"muted\">" << r.sources.size()
      << " results file(s): " << esc([&] {
             std::string all;
             for (const auto& x : r.sources) all += (all.empty() ? "" : ", ") + x;
             return all;
         }())
      << "</p>\n";

    h << "<h2 id=\"summary\">Summary</h2>\n<table class=\"figures\">"
      << "<tr><th>requirements in the catalogue</th><td class=\"big\" id=\"fig-total\">" << s.all.total << "</td></tr>"
      << "<tr><th>observed and never violated</th><td class=\"big\" id=\"fig-observed\">" << s.all.observed << "</td></tr>"
      << "<tr><th>violated</th><td class=\"big\" id=\"fig-violated\">" << s.all.violated << "</td></tr>"
      << "<tr><th>never observed</th><td class=\"big\" id=\"fig-never\">" << s.all.never << "</td></tr>"
      << "<tr><th>MUST-level requirements observed and never violated</th><td class=\"big\"><span id=\"fig-must-observed\">"
      << s.must.observed << "</span> of <span id=\"fig-must-total\">" << s.must.total << "</span> (<span id=\"fig-must-share\">"
      << pct(s.must.observed, s.must.total) << "</span>)</td></tr></table>\n";
    h << svg_plot(s) << "\n";

    h << "<h3>By chapter</h3><table id=\"by-section\"><tr><th>chapter</th><th>total</th><th>observed</th><th>violated</th><th>never observed</th><th>share observed</th></tr>";
    for (const auto& k : ordered(s.by_section)) h << counts_row("§" + k, s.by_section.at(k));
    h << "</table>\n<h3>By level</h3><table id=\"by-level\"><tr><th>level</th><th>total</th><th>observed</th><th>violated</th><th>never observed</th><th>share observed</th></tr>";
    for (const char* lv : LEVELS)
        if (s.by_level.count(lv)) h << counts_row(lv, s.by_level.at(lv));
    h << "</table>\n";

    h << "<h2 id=\"suites\">Suites</h2><table class=\"figures\">"
      << "<tr><th>scenario runs (simulation, wire checker on every run)</th><td><span id=\"fig-scenarios-passed\">" << s.scenario_passed
      << "</span> passed, <span id=\"fig-scenarios-failed\">" << s.scenario_failed << "</span> failed</td></tr>"
      << "<tr><th>swarm runs (every knob and fault drawn from each run's seed)</th><td><span id=\"fig-swarm-passed\">" << s.swarm_passed
      << "</span> passed, <span id=\"fig-swarm-failed\">" << s.swarm_failed << "</span> failed of <span id=\"fig-swarm-runs\">"
      << s.swarm_runs << "</span></td></tr>"
      << "<tr><th>peer suite: libiscsi iscsi-test-cu against iscsilab serve (a skip is not a pass)</th><td><span id=\"fig-peer-passed\">"
      << s.peer_passed << "</span> passed, <span id=\"fig-peer-skipped\">" << s.peer_skipped << "</span> skipped, <span id=\"fig-peer-failed\">"
      << s.peer_failed << "</span> failed of <span id=\"fig-peer-total\">" << s.peer_total << "</span></td></tr>"
      << "<tr><th>unit tests (Boost.Test cases)</th><td><span id=\"fig-unit-passed\">" << s.unit_passed << "</span> passed, <span id=\"fig-unit-failed\">"
      << s.unit_failed << "</span> failed of <span id=\"fig-unit-total\">" << s.unit_total << "</span></td></tr></table>\n";
    if (s.scenario_failed) {
        h << "<h3>Failed scenario runs</h3><ul>";
        for (const auto& run : r.scenario_runs)
            if (!run.passed)
                h << "<li>" << esc(run.scenario) << " seed " << run.seed << ": <code>" << esc(run.replay) << "</code> "
                  << esc(run.failures.empty() ? "" : run.failures[0]) << "</li>";
        h << "</ul>\n";
    }
    if (s.peer_failed) {
        h << "<h3>Failed peer tests</h3><ul>";
        for (const auto& t : r.peer_tests)
            if (t.outcome == "failed") h << "<li><code>" << esc(t.name) << "</code></li>";
        h << "</ul>\n";
    }

    h << "<h2 id=\"coverage\">Coverage of target/</h2>\n";
    if (r.coverage) {
        h << "<table id=\"coverage-table\"><tr><th>folder</th><th>lines</th><th>branches</th><th>functions</th></tr>";
        for (const auto& [folder, f] : r.coverage->by_folder) {
            h << "<tr><th>" << esc(folder) << "</th>";
            for (const char* k : {"lines", "branches", "functions"}) {
                auto it = f.find(k);
                if (it == f.end()) h << "<td>-</td>";
                else h << "<td class=\"num\" data-folder=\"" << esc(folder) << "\" data-kind=\"" << k << "\">" << pct(it->second.covered, it->second.total)
                       << " <span class=\"muted\">(" << it->second.covered << "/" << it->second.total << ")</span></td>";
            }
            h << "</tr>";
        }
        h << "</table><p>From the suites, unit tests and peer suite run on a coverage build; gcovr's detail: "
          << "<a href=\"coverage/index.html\">coverage/index.html</a>.</p>\n";
    } else {
        h << "<p class=\"muted\" id=\"coverage-none\">No coverage in these results (run the main job for a coverage build).</p>\n";
    }

    h << "<h2 id=\"how-to-read\">How to read this report</h2><ul>"
      << "<li>Each row is one normative statement of RFC 3720 (catalogue in <code>reports/catalogue/</code>), with the level the RFC gives it.</li>"
      << "<li><b>observed</b>: something watched it hold at least once and nothing saw it broken: a wire-checker rule that judged PDUs of a "
         "scenario run or of the peer suite's capture, a scenario that exercises it and passed, a peer test that ran (not skipped) and passed, "
         "or a unit test that passed.</li>"
      << "<li><b>violated</b>: at least one observation saw it broken (the observation says where; a scenario run comes with the command that "
         "replays it, and the pcap, in which the violation record sits next to the PDU: filter <code>iscsilab.violation</code> in Wireshark "
         "with our plugin).</li>"
      << "<li>A scenario run's pcap is kept when the run failed; any run's pcap is remade bit for bit by its replay command "
         "with <code>--pcap DIR</code> (same seed, same binary). The peer suite's capture is kept when the target broke a rule in it.</li>"
      << "<li><b>never observed</b>: nothing in these results exercised it; the row says whether it is planned or why it cannot be observed.</li>"
      << "<li>Deviations of the test initiator (iscsi-test-cu breaks rules on purpose to see the target's answer) do not count against the "
         "target.</li></ul>\n";

    h << "<h2 id=\"requirements\">Requirements</h2><div class=\"filters\">"
      << "<button data-filter=\"all\">all (" << s.all.total << ")</button>"
      << "<button data-filter=\"violated\">violated (" << s.all.violated << ")</button>"
      << "<button data-filter=\"observed\">observed (" << s.all.observed << ")</button>"
      << "<button data-filter=\"never\">never observed (" << s.all.never << ")</button>"
      << " <span class=\"muted\"><span id=\"shown-count\">" << s.all.total << "</span> shown</span></div>\n";
    h << "<table id=\"req-table\"><thead><tr><th>id</th><th>§</th><th>level</th><th>binds</th><th>requirement</th><th>status</th><th>observations</th></tr></thead><tbody>\n";
    for (const auto& rr : rep.requirements) {
        const auto& q = *rr.requirement;
        h << "<tr data-status=\"" << css_class(rr.status) << "\" id=\"req-" << esc(q.id) << "\"><td>" << esc(q.id) << "</td><td>" << esc(q.section)
          << "</td><td>" << esc(q.level) << "</td><td>" << esc(q.binds) << "</td><td>" << esc(q.text);
        if (q.rfc7143 != "same") h << " <span class=\"muted\">(RFC 7143 " << esc(q.rfc7143) << ": " << esc(q.rfc7143_note) << ")</span>";
        h << "</td><td><span class=\"status status-" << css_class(rr.status) << "\">" << to_string(rr.status) << "</span></td><td>";
        if (rr.observations.empty()) {
            h << "<span class=\"muted\">" << esc(rr.planned.empty() ? "no observation" : rr.planned) << "</span>";
        } else {
            h << "<ul class=\"obs\">";
            std::size_t shown = 0;
            for (const auto& ob : rr.observations) {
                if (shown++ == 4) {
                    h << "<li class=\"muted\">and " << rr.observations.size() - 4 << " more</li>";
                    break;
                }
                h << "<li>" << esc(ob.kind) << ": " << esc(ob.source);
                if (ob.kind == "wire") h << " (" << ob.exercised << " PDUs judged)";
                if (ob.violated) h << " <b>violated</b>";
                if (!ob.detail.empty()) h << " <code>" << esc(ob.detail) << "</code>";
                if (!ob.link.empty()) h << " <a href=\"" << esc(ob.link) << "\">pcap</a>";
                h << "</li>";
            }
            h << "</ul>";
        }
        h << "</td></tr>\n";
    }
    h << "</tbody></table>\n<script>" << SCRIPT << "</script>\n</body></html>\n";
    return h.str();
}


}  // namespace iscsilab::report::detail
