// Helpers the report's writers share (report.cpp, report_html.cpp). Internal.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reports/report/report.hpp"

namespace iscsilab::report::detail {

std::string esc(const std::string& s);                 // escape_xml
const char* css_class(Status s);                       // observed | violated | never
std::string chapter(const std::string& section);       // "10.19" -> "10"
std::string pct(std::size_t a, std::size_t b);         // "62.3%"
std::vector<std::string> ordered(const std::map<std::string, Counts>& m);  // chapters in numeric order
extern const char* const LEVELS[8];                    // MUST ... MAY, in the RFC's order

std::string html(const Report& rep, const Results& r);

}  // namespace iscsilab::report::detail
