#pragma once

namespace flowgate::gateway::cli {

// flowgate serve|check|sink|version|help ... (docs/operations.md). Returns the process exit code.
int run(int argc, char** argv);

}  // namespace flowgate::gateway::cli
