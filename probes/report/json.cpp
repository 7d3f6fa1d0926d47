// SPDX-License-Identifier: MIT
// The machine renderer: the subcommand's own versioned JSON document (--json).
#include "probes/report/formats.hpp"

namespace probes::report {

std::string render_json(const Document& doc, const RenderOptions& /*opts*/) {
    return doc.machine.dump(2) + "\n";
}

} // namespace probes::report
