// sigtrain: the command line (DESIGN.md §3). Exit codes: 0 success, 1 data/model/runtime error,
// 2 usage error; every error is one line on stderr.
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "mpi/communicator.h"
#include "mpi/rank_errors.h"
#include "util/errors.h"

namespace {

// The one line of an error, and the exit status. In an MPI job, an error that the ranks did not agree
// on (mpi/rank_errors.h) may have come while others wait in a collective for this rank: it is said
// with the rank's number, and the whole job ends (MPI_Abort) rather than hang.
int fail(int exit_code, const std::string& what) {
  using namespace sigtrain;
  if (world_made() && world().size() > 1) {
    std::fprintf(stderr, "sigtrain: rank %d of %d: %s\n", world().rank(), world().size(), what.c_str());
    world().abort(exit_code);
  }
  std::fprintf(stderr, "sigtrain: %s\n", what.c_str());
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sigtrain;
  CLI::App app("sigtrain: train small fully connected sigmoid networks by least squares", "sigtrain");
  app.require_subcommand(1);
  app.set_version_flag("--version", "sigtrain 0.1.0");
  const std::vector<std::pair<std::string, cli::Run>> commands = {
      {"train", cli::add_train(app)},         {"predict", cli::add_predict(app)}, {"eval", cli::add_eval(app)},
      {"gradcheck", cli::add_gradcheck(app)}, {"explain", cli::add_explain(app)}, {"bench", cli::add_bench(app)},
  };
  std::string command_names;
  for (const auto& [name, run] : commands) command_names += (command_names.empty() ? "" : ", ") + name;
  const auto find_command = [&](const std::string& name) {
    for (const auto& command : commands)
      if (command.first == name) return &command.second;
    return static_cast<const cli::Run*>(nullptr);
  };
  // CLI11 reports a mistyped command as "A subcommand is required"; name it instead.
  if (argc > 1 && argv[1][0] != '-' && !find_command(argv[1])) {
    std::fprintf(stderr, "sigtrain: unknown command '%s'; the commands are %s (see sigtrain --help)\n", argv[1],
                 command_names.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string what = e.what();
    if (what.empty() || what.find("subcommand is required") != std::string::npos)
      what = "a command is required: " + command_names;
    std::fprintf(stderr, "sigtrain: %s (see sigtrain --help)\n", what.c_str());
    return 2;
  }
  try {
    return (*find_command(app.get_subcommands().front()->get_name()))();
  } catch (const JobError& e) {  // every rank of an MPI job has it; rank 0 says it (mpi/rank_errors.h)
    if (e.print_here()) std::fprintf(stderr, "sigtrain: %s\n", e.what());
    return e.exit_code();
  } catch (const UsageError& e) {
    return fail(2, e.what());
  } catch (const InputError& e) {
    return fail(1, e.what());
  } catch (const std::bad_alloc&) {
    return fail(1, "out of memory");
  } catch (const std::exception& e) {
    return fail(1, e.what());
  }
}
