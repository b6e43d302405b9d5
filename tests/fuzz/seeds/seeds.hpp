// The seed corpora's writer (fuzz_seeds, tests/fuzz/seeds/main.cpp): what its parts share.
// One file per family of entry points: iscsi.cpp (framer_conn, login_keys, chap), cdb.cpp
// and conf.cpp (scst_conf, mgmt).
#pragma once

#include <filesystem>
#include <string>

#include "target/ports.hpp"

namespace iscsilab::fuzz::seeds {

// Where seed-* files go: OUT_DIR/<entry point>/seed-<name>.
std::filesystem::path& out_dir();
void write_seed(const std::string& target, const std::string& name, const Bytes& b);
void write_seed(const std::string& target, const std::string& name, const std::string& s);
void append(Bytes& to, const Bytes& b);
Bytes pattern(std::size_t n, int seed);

void framer_seeds();                                   // iscsi.cpp
void login_seeds();                                    // iscsi.cpp
void cdb_seeds();                                      // cdb.cpp
void conf_seeds(const std::filesystem::path& source);  // conf.cpp

}  // namespace iscsilab::fuzz::seeds
