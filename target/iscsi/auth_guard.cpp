#include "target/iscsi/auth_guard.hpp"

#include <algorithm>

namespace iscsilab::iscsi {

namespace {
// Names an initiator chose go into the table: no longer than an iSCSI name can be
// (RFC 3720 §3.2.6.1: 223 bytes), so that one entry stays small.
constexpr std::size_t kMaxKey = 256;
}  // namespace

std::string LoginBackoff::address_of(std::string_view peer) {
    if (!peer.empty() && peer[0] == '[') {
        auto end = peer.find(']');
        return std::string(peer.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
    }
    // "host:port" with one colon; an IPv6 address without brackets has several.
    if (std::count(peer.begin(), peer.end(), ':') == 1) return std::string(peer.substr(0, peer.find(':')));
    return std::string(peer);
}

unsigned LoginBackoff::bump(std::string key, Nanos now) {
    if (key.size() > kMaxKey) key.resize(kMaxKey);
    // Forget the entries that have been quiet long enough (the longest quiet first).
    while (!ages_.empty()) {
        auto it = entries_.find(ages_.front());
        if (it != entries_.end() && now - it->second.last < policy_.forget_after) break;
        if (it != entries_.end()) entries_.erase(it);
        ages_.pop_front();
    }
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        // Full: the longest quiet goes.
        while (!ages_.empty() && entries_.size() >= policy_.max_entries) {
            entries_.erase(ages_.front());
            ages_.pop_front();
        }
        it = entries_.emplace(key, Entry{}).first;
        it->second.age = ages_.insert(ages_.end(), key);
    } else {
        ages_.splice(ages_.end(), ages_, it->second.age);
    }
    it->second.last = now;
    if (it->second.failures < 64) ++it->second.failures;
    return it->second.failures;
}

LoginBackoff::Verdict LoginBackoff::failed(std::string_view name, std::string_view peer, Nanos now) {
    std::lock_guard lock(mu_);
    Verdict v;
    if (!name.empty()) v.by_name = bump("name " + std::string(name), now);
    const std::string address = address_of(peer);
    if (!address.empty()) v.by_address = bump("address " + address, now);
    const unsigned n = std::max(v.by_name, v.by_address);
    if (n == 0) return v;
    Nanos d = policy_.first;
    for (unsigned i = 1; i < n && d < policy_.cap; ++i) d *= 2;
    v.delay = std::min(d, policy_.cap);
    return v;
}

std::size_t LoginBackoff::size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

bool RecentValues::insert(std::span<const std::byte> v) {
    std::string key(reinterpret_cast<const char*>(v.data()), v.size());
    std::lock_guard lock(mu_);
    if (!set_.insert(key).second) return false;
    order_.push_back(std::move(key));
    while (order_.size() > capacity_) {
        set_.erase(order_.front());
        order_.pop_front();
    }
    return true;
}

bool RecentValues::contains(std::span<const std::byte> v) const {
    std::string key(reinterpret_cast<const char*>(v.data()), v.size());
    std::lock_guard lock(mu_);
    return set_.count(key) != 0;
}

std::size_t RecentValues::size() const {
    std::lock_guard lock(mu_);
    return set_.size();
}

}  // namespace iscsilab::iscsi
