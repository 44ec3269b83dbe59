#include "gateway/cli.hpp"

int main(int argc, char** argv) { return flowgate::gateway::cli::run(argc, argv); }
