#include "reports/report/report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reports/report/peer_parse.hpp"

namespace iscsilab::report {

namespace fs = std::filesystem;

std::string escape_xml(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char ch : s) {
        switch (ch) {
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '&': o += "&amp;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += ch;
        }
    }
    return o;
}

const char* to_string(Status s) {
    switch (s) {
        case Status::violated: return "violated";
        case Status::observed: return "observed";
        case Status::never_observed: return "never observed";
    }
    return "?";
}

namespace {

std::string esc(const std::string& s) { return escape_xml(s); }

const char* css_class(Status s) {
    switch (s) {
        case Status::violated: return "violated";
        case Status::observed: return "observed";
        case Status::never_observed: return "never";
    }
    return "never";
}

std::string chapter(const std::string& section) { return section.substr(0, section.find('.')); }

void add(Counts& c, Status s) {
    ++c.total;
    if (s == Status::observed) ++c.observed;
    else if (s == Status::violated) ++c.violated;
    else ++c.never;
}

std::string pct(std::size_t a, std::size_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0);
    return buf;
}

std::string md_cell(std::string s) {
    std::replace(s.begin(), s.end(), '|', '/');
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

// Sections in numeric order ("3" < "10").
std::vector<std::string> ordered(const std::map<std::string, Counts>& m) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : m) keys.push_back(k);
    std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
        return std::stoi(a) != std::stoi(b) ? std::stoi(a) < std::stoi(b) : a < b;
    });
    return keys;
}

const char* LEVELS[] = {"MUST", "MUST NOT", "SHALL", "SHALL NOT", "REQUIRED", "SHOULD", "SHOULD NOT", "MAY"};

}  // namespace

Report build(const catalogue::Catalogue& cat, const Results& r) {
    Report rep;
    // Wire tallies by id, from every scenario run (and which runs) and the peer capture.
    std::map<std::string, std::vector<const ScenarioRun*>> wire_runs;
    for (const auto& run : r.scenario_runs)
        for (const auto& [id, t] : run.wire)
            if (t.exercised || t.violated) wire_runs[id].push_back(&run);
    std::map<std::string, const PeerTest*> peer_by_name;
    for (const auto& t : r.peer_tests) peer_by_name[t.name] = &t;
    std::map<std::string, const UnitTest*> unit_by_name;
    for (const auto& u : r.unit_tests) unit_by_name[u.name] = &u;

    for (const auto& req : cat.requirements) {
        RequirementResult rr;
        rr.requirement = &req;
        for (const auto& o : req.observed_by) {
            if (o.kind == "wire") {
                auto it = wire_runs.find(req.id);
                if (it != wire_runs.end()) {
                    for (const ScenarioRun* run : it->second) {
                        const auto& t = run->wire.at(req.id);
                        rr.observations.push_back({"wire", run->scenario + " seed " + std::to_string(run->seed), t.exercised,
                                                   t.violated > 0, run->replay + "  (digest " + run->digest + ")", run->pcap});
                    }
                }
                auto p = r.peer_wire.find(req.id);
                if (p != r.peer_wire.end() && (p->second.exercised || p->second.violated))
                    rr.observations.push_back({"wire", "peer suite capture", p->second.exercised, p->second.violated > 0,
                                               "iscsilab check on the capture of iscsi-test-cu", r.peer_capture});
            } else if (o.kind == "scenario") {
                for (const auto& run : r.scenario_runs)
                    if (std::find(run.requirements.begin(), run.requirements.end(), req.id) != run.requirements.end())
                        rr.observations.push_back({"scenario", run.scenario + " seed " + std::to_string(run.seed), 1, !run.passed,
                                                   run.replay + (run.passed ? "" : "  FAILED: " + (run.failures.empty() ? std::string() : run.failures[0])),
                                                   run.pcap});
            } else if (o.kind == "peer") {
                auto it = peer_by_name.find(o.value);
                if (it != peer_by_name.end() && it->second->outcome != "skipped")
                    rr.observations.push_back({"peer", "iscsi-test-cu " + o.value, 1, it->second->outcome == "failed",
                                               it->second->outcome, ""});
            } else if (o.kind == "unit") {
                auto it = unit_by_name.find(o.value);
                if (it != unit_by_name.end() && it->second->outcome != "skipped")
                    rr.observations.push_back({"unit", o.value, 1, it->second->outcome == "failed", it->second->outcome, ""});
            } else if (o.kind == "planned" || o.kind == "none") {
                rr.planned = o.kind + ": " + o.value;
            }
        }
        bool violated = false, observed = false;
        for (const auto& ob : rr.observations) {
            violated = violated || ob.violated;
            observed = observed || ob.exercised > 0;
        }
        rr.status = violated ? Status::violated : observed ? Status::observed : Status::never_observed;
        auto& s = rep.summary;
        add(s.all, rr.status);
        if (req.must_level()) add(s.must, rr.status);
        add(s.by_section[chapter(req.section)], rr.status);
        add(s.by_level[req.level], rr.status);
        rep.requirements.push_back(std::move(rr));
    }
    auto& s = rep.summary;
    s.scenario_runs = r.scenario_runs.size();
    for (const auto& run : r.scenario_runs) (run.passed ? s.scenario_passed : s.scenario_failed)++;
    const auto pc = count(r.peer_tests);
    s.peer_total = pc.total();
    s.peer_passed = pc.passed;
    s.peer_skipped = pc.skipped;
    s.peer_failed = pc.failed;
    s.unit_total = r.unit_tests.size();
    for (const auto& u : r.unit_tests) {
        if (u.outcome == "passed") ++s.unit_passed;
        else if (u.outcome == "failed") ++s.unit_failed;
    }
    return rep;
}

std::string summary_line(const Report& rep) {
    const auto& s = rep.summary;
    std::ostringstream o;
    o << "report: " << s.all.total << " requirements: " << s.all.observed << " observed and never violated, " << s.all.violated
      << " violated, " << s.all.never << " never observed; MUST-level " << s.must.observed << "/" << s.must.total << " ("
      << pct(s.must.observed, s.must.total) << "); scenarios " << s.scenario_passed << " passed, " << s.scenario_failed
      << " failed; peer " << s.peer_passed << " passed, " << s.peer_skipped << " skipped, " << s.peer_failed << " failed";
    return o.str();
}

namespace {

nlohmann::json counts_json(const Counts& c) {
    return {{"total", c.total}, {"observed", c.observed}, {"violated", c.violated}, {"never_observed", c.never}};
}

std::string results_json(const Report& rep, const Results& r) {
    auto j = nlohmann::json::parse(to_json(r));
    const auto& s = rep.summary;
    nlohmann::json rj;
    rj["summary"] = {{"requirements", counts_json(s.all)},
                     {"must_level", counts_json(s.must)},
                     {"must_level_observed_share", s.must_share()},
                     {"scenarios", {{"runs", s.scenario_runs}, {"passed", s.scenario_passed}, {"failed", s.scenario_failed}}},
                     {"peer", {{"total", s.peer_total}, {"passed", s.peer_passed}, {"skipped", s.peer_skipped}, {"failed", s.peer_failed}}},
                     {"unit", {{"total", s.unit_total}, {"passed", s.unit_passed}, {"failed", s.unit_failed}}}};
    for (const auto& [k, c] : s.by_section) rj["summary"]["by_section"][k] = counts_json(c);
    for (const auto& [k, c] : s.by_level) rj["summary"]["by_level"][k] = counts_json(c);
    rj["requirements"] = nlohmann::json::array();
    for (const auto& rr : rep.requirements) {
        nlohmann::json o = {{"id", rr.requirement->id}, {"section", rr.requirement->section}, {"level", rr.requirement->level},
                            {"status", to_string(rr.status)}, {"observations", nlohmann::json::array()}};
        for (const auto& ob : rr.observations)
            o["observations"].push_back({{"kind", ob.kind}, {"source", ob.source}, {"exercised", ob.exercised},
                                         {"violated", ob.violated}, {"detail", ob.detail}, {"link", ob.link}});
        rj["requirements"].push_back(o);
    }
    j["report"] = rj;
    return j.dump(2);
}

std::string junit_xml(const Report& rep, const Results& r) {
    std::ostringstream x;
    x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
    const auto& s = rep.summary;
    x << "  <testsuite name=\"RFC 3720 requirements\" tests=\"" << s.all.total << "\" failures=\"" << s.all.violated
      << "\" skipped=\"" << s.all.never << "\">\n";
    for (const auto& rr : rep.requirements) {
        x << "    <testcase classname=\"rfc3720." << esc(chapter(rr.requirement->section)) << "\" name=\"" << esc(rr.requirement->id)
          << "\">";
        if (rr.status == Status::violated) {
            std::string why;
            for (const auto& ob : rr.observations)
                if (ob.violated) why += ob.kind + " " + ob.source + ": " + ob.detail + "\n";
            x << "<failure message=\"" << esc(rr.requirement->level + " violated: " + rr.requirement->text) << "\">" << esc(why)
              << "</failure>";
        } else if (rr.status == Status::never_observed) {
            x << "<skipped message=\"never observed" << (rr.planned.empty() ? "" : " (" + esc(rr.planned) + ")") << "\"/>";
        }
        x << "</testcase>\n";
    }
    x << "  </testsuite>\n  <testsuite name=\"scenarios\" tests=\"" << s.scenario_runs << "\" failures=\"" << s.scenario_failed
      << "\">\n";
    for (const auto& run : r.scenario_runs) {
        x << "    <testcase classname=\"scenarios\" name=\"" << esc(run.scenario) << " [seed " << run.seed << "]\" time=\""
          << run.wall_seconds << "\">";
        if (!run.passed) {
            std::string why;
            for (const auto& f : run.failures) why += f + "\n";
            x << "<failure message=\"" << esc(run.failures.empty() ? "failed" : run.failures[0]) << "\">" << esc(why + "replay: " + run.replay)
              << "</failure>";
        }
        x << "</testcase>\n";
    }
    x << "  </testsuite>\n  <testsuite name=\"peer suite (iscsi-test-cu)\" tests=\"" << s.peer_total << "\" failures=\"" << s.peer_failed
      << "\" skipped=\"" << s.peer_skipped << "\">\n";
    for (const auto& t : r.peer_tests) {
        x << "    <testcase classname=\"iscsi-test-cu\" name=\"" << esc(t.name) << "\">";
        if (t.outcome == "failed") x << "<failure message=\"failed\">" << esc(t.reason) << "</failure>";
        else if (t.outcome == "skipped") x << "<skipped message=\"" << esc(t.reason) << "\"/>";
        x << "</testcase>\n";
    }
    x << "  </testsuite>\n</testsuites>\n";
    return x.str();
}

std::string markdown(const Report& rep, const Results& r) {
    const auto& s = rep.summary;
    std::ostringstream m;
    m << "## RFC 3720 conformance (iscsilab)\n\n";
    m << "| | requirements | MUST-level |\n|---|---:|---:|\n";
    m << "| in the catalogue | " << s.all.total << " | " << s.must.total << " |\n";
    m << "| observed, never violated | " << s.all.observed << " | " << s.must.observed << " (" << pct(s.must.observed, s.must.total) << ") |\n";
    m << "| violated | " << s.all.violated << " | " << s.must.violated << " |\n";
    m << "| never observed | " << s.all.never << " | " << s.must.never << " |\n\n";
    m << "Scenario runs: " << s.scenario_passed << " passed, " << s.scenario_failed << " failed. Peer suite (iscsi-test-cu): "
      << s.peer_passed << " passed, " << s.peer_skipped << " skipped, " << s.peer_failed << " failed. Unit tests: " << s.unit_passed
      << " passed, " << s.unit_failed << " failed.\n\n";
    if (r.coverage) {
        m << "| coverage of | lines | branches | functions |\n|---|---:|---:|---:|\n";
        for (const auto& [folder, f] : r.coverage->by_folder) {
            auto get = [&](const char* k) {
                auto it = f.find(k);
                return it == f.end() ? std::string("-") : pct(it->second.covered, it->second.total);
            };
            m << "| " << folder << " | " << get("lines") << " | " << get("branches") << " | " << get("functions") << " |\n";
        }
        m << "\n";
    }
    if (s.all.violated) {
        m << "### Violated\n\n";
        for (const auto& rr : rep.requirements) {
            if (rr.status != Status::violated) continue;
            m << "- `" << rr.requirement->id << "` (" << rr.requirement->level << "): " << md_cell(rr.requirement->text) << "\n";
            for (const auto& ob : rr.observations)
                if (ob.violated) m << "  - " << ob.kind << " " << md_cell(ob.source) << ": `" << md_cell(ob.detail) << "`\n";
        }
        m << "\n";
    }
    if (s.scenario_failed) {
        m << "### Failed scenario runs\n\n";
        for (const auto& run : r.scenario_runs)
            if (!run.passed) m << "- " << run.scenario << " seed " << run.seed << ": `" << run.replay << "`\n";
        m << "\n";
    }
    m << "Full report: `index.html`; machine-readable: `results.json`, `junit.xml`.\n";
    return m.str();
}

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

}  // namespace

std::string write(const Report& rep, const Results& r, const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return "cannot make " + dir + ": " + ec.message();
    auto put = [&](const char* name, const std::string& text) -> std::string {
        std::ofstream out(fs::path(dir) / name);
        out << text;
        return out ? std::string() : std::string("cannot write ") + (fs::path(dir) / name).string();
    };
    for (auto e : {put("index.html", html(rep, r)), put("report.md", markdown(rep, r)), put("junit.xml", junit_xml(rep, r)),
                   put("results.json", results_json(rep, r) + "\n")})
        if (!e.empty()) return e;
    return {};
}

}  // namespace iscsilab::report
