// SPDX-License-Identifier: MIT
// JUnit XML for CI systems: one <testcase> per Document::cases entry.
#include <sstream>

#include "probes/report/formats.hpp"

namespace probes::report {

std::string render_junit(const Document& doc, const RenderOptions& /*opts*/) {
    std::size_t failures = 0;
    std::ostringstream cases;
    for (const auto& c : doc.cases) {
        cases << "  <testcase classname=\"" << xml_escape(c.classname) << "\" name=\""
              << xml_escape(c.name) << "\">\n";
        if (c.failure) {
            ++failures;
            cases << "    <failure message=\"" << xml_escape(c.failure->message) << "\">"
                  << xml_escape(c.failure->text) << "</failure>\n";
        }
        cases << "  </testcase>\n";
    }
    std::ostringstream out;
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"" << xml_escape(doc.suite)
        << "\" tests=\"" << doc.cases.size() << "\" failures=\"" << failures << "\">\n"
        << cases.str() << "</testsuite>\n";
    return out.str();
}

} // namespace probes::report
