// Many networks (--replicas / --sweep) over the ranks of an MPI job: which networks each rank trains,
// and what rank 0 gathers of the others' to print the table and write the models. Each network is
// trained by one rank exactly as a single process trains it (train_replicas: replica r is the single run
// with its settings), so its model file has the same bytes whichever rank made it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "mpi/communicator.h"
#include "run/train_plan.h"
#include "train/replicas.h"

namespace sigtrain {

// The networks rank `rank` of `ranks` trains: rank, rank + ranks, rank + 2·ranks, … (dealt like cards).
// A sweep lists its networks lr outermost, and networks of one lr take alike long (a large lr diverges
// and stops early; with --patience a small one may run longest): dealt out, every rank gets its share of
// each lr, where contiguous blocks would give one rank all the slow ones.
std::vector<size_t> networks_of_rank(size_t networks, int rank, int ranks);
// The rank that trains network `index`.
inline int rank_of_network(size_t index, int ranks) { return int(index % size_t(ranks)); }

// Every network's result, in network order, on every rank (a collective): `trained` (this rank's, in the
// order of networks_of_rank) as they are; the other ranks' with what the table line and the choice of the
// best read (ran, outcome, message, the kept epoch's losses, the last epoch's number), without parameters.
std::vector<ReplicaResult> gather_replica_results(Communicator& ranks, const std::vector<NetworkSettings>& settings,
                                                  std::vector<ReplicaResult> trained);

// The model files' texts (write_model's bytes) of the networks `wanted` (indices), each made by the rank
// that trained it, on rank 0 (elsewhere empty): index → text. A collective. `results` as
// gather_replica_results gives them (this rank's own with parameters).
std::map<size_t, std::string> gather_model_texts(Communicator& ranks, const TrainPlan& plan,
                                                 const std::vector<ReplicaResult>& results,
                                                 const std::vector<size_t>& wanted);

}  // namespace sigtrain
