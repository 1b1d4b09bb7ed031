#include "mpi/rank_errors.h"

#include <exception>
#include <new>
#include <vector>

#include "util/errors.h"

namespace sigtrain {

namespace {

// A rank's failure as it travels: its exit status (one digit), then its line; empty for none.
std::string failure_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const UsageError& e) {
    return "2" + std::string(e.what());
  } catch (const std::bad_alloc&) {
    return "1out of memory";
  } catch (const std::exception& e) {
    return "1" + std::string(e.what());
  } catch (...) {
    return "1unknown error";
  }
}

}  // namespace

void on_every_rank(Communicator& ranks, const std::function<void()>& work) {
  if (ranks.size() == 1) return work();
  std::string mine;
  try {
    work();
  } catch (...) {
    mine = failure_of(std::current_exception());
  }
  const std::vector<std::string> all = ranks.gather_errors(mine);
  int first = -1, others = 0;
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    if (first < 0)
      first = int(r);
    else
      ++others;
  }
  if (first < 0) return;
  const std::string& failure = all[size_t(first)];
  std::string line = "rank " + std::to_string(first) + " of " + std::to_string(ranks.size()) + ": " + failure.substr(1);
  if (others > 0) line += " (and " + std::to_string(others) + " more rank" + (others > 1 ? "s" : "") + " failed)";
  throw JobError(line, failure[0] == '2' ? 2 : 1, ranks.rank() == 0);
}

void fail_on_every_rank(Communicator& ranks, const std::string& why) {
  if (ranks.size() > 1) throw JobError(why, 1, ranks.rank() == 0);
  throw InputError(why);
}

}  // namespace sigtrain
