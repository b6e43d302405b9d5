// StateStore over a directory: one file per record, replaced atomically (write a
// temporary file, fsync it, rename it over the old one, fsync the directory), on the
// I/O pool so that no reactor waits for the disk.
#pragma once

#include <string>

#include "hil/file_store.hpp"
#include "target/ports.hpp"

namespace iscsilab::hil {

class DirStateStore final : public StateStore {
public:
    // Creates dir (and its parents) if needed. Throws std::runtime_error with the reason
    // when it cannot.
    DirStateStore(std::string dir, IoPool& pool);
    Bytes load(const std::string& name) override;
    void save(const std::string& name, Bytes bytes, std::function<void(bool ok)> done) override;
    const std::string& dir() const { return dir_; }

private:
    std::string path_of(const std::string& name) const;
    std::string dir_;
    IoPool& pool_;
};

}  // namespace iscsilab::hil
