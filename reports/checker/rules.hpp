// The wire rules the checker judges. Each is a requirement of the catalogue
// (reports/catalogue/*.yaml) and carries its id; the catalogue entry says it is
// `observed_by: wire`. tests/reports/test_catalogue.cpp holds the two lists together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace iscsilab::checker {

#define ISCSILAB_WIRE_RULES(X)                                                                                     \
    /* framing, RFC 3720 §10.2 */                                                                                 \
    X(opcode_direction, "3720-10.2-target-sends-target-opcodes", "each side sends only its own opcodes")               \
    X(reserved_bit, "3720-10.2-target-pdu-byte0-high-bits-zero", "the first bit of the BHS is 0; target PDUs never set the I bit") \
    X(dsl_within_mrdsl, "3720-12.12-pdu-within-receiver-mrdsl", "a data segment is no longer than the receiver's MaxRecvDataSegmentLength") \
    X(padding_zero, "3720-10.1-padding-bytes-zero", "pad bytes after the data segment are zero")                         \
    X(header_digest_valid, "3720-12.1-digest-on-every-pdu-after-agreement", "a negotiated header digest matches the header")     \
    X(data_digest_valid, "3720-10.2-digests-cover-padding", "a negotiated data digest matches the data segment")     \
    /* login, RFC 3720 §5.3, §10.12, §10.13 */                                                                    \
    X(login_first, "3720-3.2-login-first-pdu", "the first PDU on a connection is a Login Request")                \
    X(login_only_login_rsp, "3720-3.2-login-pdus-only-during-login", "during the login phase the target sends only Login Responses (or a Reject of a non-login PDU)") \
    X(login_rsp_itt, "3720-10.12-login-response-itt-echo", "a Login Response carries the ITT of its request")          \
    X(login_rsp_isid, "3720-10.13-login-rsp-isid-echo", "a Login Response echoes the ISID of the request")        \
    X(login_rsp_version, "3720-10.13-version-active-in-range", "Version-active lies within the request's Version-min..Version-max") \
    X(login_rsp_t_bit, "3720-10.13-transit-only-when-requested", "the target sets T only when the request set T") \
    X(login_rsp_csg, "3720-10.13-csg-echo", "a Login Response's CSG is the request's CSG")                        \
    X(login_rsp_nsg, "3720-5.3-nsg-not-above-request", "with T set, the response's NSG is a legal stage no later than the request's") \
    X(login_c_t_exclusive, "3720-5.2-continue-excludes-final", "T and C are never both set in a login PDU")          \
    X(login_tsih_on_final, "3720-10.13-new-session-tsih-only-in-final", "a new session's TSIH is 0 until the final Login Response, which sets it") \
    X(login_tsih_echo, "3720-10.13-existing-session-tsih-echo", "a login for an existing session gets the same TSIH back") \
    X(login_status_valid, "3720-10.13-status-class-valid", "status class and detail are values RFC 3720 defines") \
    X(login_error_ends, "3720-7.1-login-reject-then-close", "after a login error response the target sends nothing more on the connection") \
    X(login_statsn_sequence, "3720-10.13-login-statsn-increments", "StatSN counts up by one per Login Response after the first") \
    X(login_tpgt_first, "3720-12.9-tpgt-in-first-login-response", "a normal session's first successful Login Response carries TargetPortalGroupTag") \
    X(key_syntax, "3720-5.1-key-pair-null-terminated", "login and text data are NUL-terminated key=value pairs")           \
    X(key_answered, "3720-5.2-key-proposal-answered", "every negotiable key the initiator offers gets an answer before the login ends") \
    X(key_not_understood, "3720-5.2-key-unknown-answered-notunderstood", "a key the target does not know is answered NotUnderstood") \
    X(key_bool_and, "3720-5.2-key-boolean-answer-follows-function", "an AND key offered No is answered No")                               \
    X(key_bool_or, "3720-5.2-key-result-or", "an OR key offered Yes is answered Yes")                                \
    X(key_numeric_min, "3720-5.2-key-result-min", "a key with the minimum function is answered no higher than the offer") \
    X(key_numeric_max, "3720-12.15-defaulttime2wait-maximum", "a key with the maximum function is answered no lower than the offer") \
    X(key_list_choice, "3720-5.2-key-list-answer-from-offer", "a list key is answered with one of the values offered")          \
    X(key_value_range, "3720-12-key-value-in-range", "numeric keys stay within the ranges section 12 gives")        \
    X(key_firstburst_le_maxburst, "3720-12.14-firstburst-not-above-maxburst", "the negotiated FirstBurstLength is no larger than MaxBurstLength") \
    /* sequence numbers, RFC 3720 §3.2.2 */                                                                        \
    X(statsn_increment, "3720-3.2-statsn-per-connection", "StatSN advances by one per status PDU and is carried unchanged by others") \
    X(maxcmdsn_window, "3720-3.2-maxcmdsn-not-below-expcmdsn-minus-one", "MaxCmdSN is never below ExpCmdSN - 1")            \
    X(expcmdsn_monotonic, "3720-3.2-expcmdsn-never-decreases", "ExpCmdSN never goes back on a connection")          \
    X(maxcmdsn_monotonic, "3720-3.2-maxcmdsn-never-decreases", "MaxCmdSN never goes back on a connection")          \
    X(expcmdsn_received, "3720-3.2-expcmdsn-no-holes", "ExpCmdSN acknowledges no command the target has not received") \
    X(cmdsn_in_window, "3720-3.2-cmdsn-within-window", "the initiator sends non-immediate commands only within ExpCmdSN..MaxCmdSN") \
    X(cmdsn_ignored_outside, "3720-3.2-ignore-cmdsn-outside-window", "a non-immediate command outside the window gets no response") \
    X(cmdsn_sequence, "3720-3.2-cmdsn-increments-non-immediate", "non-immediate commands carry consecutive CmdSNs; immediate ones do not advance it") \
    X(expstatsn_not_ahead, "3720-3.2-expstatsn-not-ahead", "the initiator's ExpStatSN acknowledges no status it has not been sent") \
    /* SCSI command, response, data, R2T: RFC 3720 §10.3, §10.4, §10.7, §10.8 */                                   \
    X(response_once, "3720-10.4-response-names-open-task", "each task ends with exactly one status")                   \
    X(response_known_task, "3720-3.2-response-same-connection", "status, Data-In and R2T name a task the initiator started") \
    X(no_pdu_after_response, "3720-10.4-nothing-after-status", "no Data-In or R2T for a task after its status")      \
    X(residual_flags, "3720-10.4-overflow-underflow-exclusive", "U and O are never both set, and the residual count is 0 without them") \
    X(residual_read, "3720-10.7-data-in-residuals-as-response", "the residual of a read tells how much of the expected length was not sent") \
    X(residual_write, "3720-10.4-residual-count-valid-when-flagged", "the residual of a write tells how much of the expected length was not taken") \
    X(response_code_valid, "3720-10.4-response-code-defined-values", "the response field is Command Completed or Target Failure (or vendor specific)") \
    X(sense_length, "3720-10.4-check-condition-carries-sense", "SenseLength plus its two bytes fits in the data segment")      \
    X(exp_datasn, "3720-10.4-expdatasn-counts-input-pdus", "ExpDataSN in a SCSI Response counts the Data-In (and R2T) PDUs sent for the task") \
    X(datain_datasn, "3720-3.2-datain-datasn-from-zero", "Data-In PDUs of a task are numbered from 0 up by one")   \
    X(datain_offset, "3720-10.7-data-in-pdus-in-order", "with DataPDUInOrder=Yes Data-In offsets follow each other with no gap or overlap") \
    X(datain_within_edtl, "3720-10.7-datain-within-edtl", "Data-In never goes beyond the command's expected data length") \
    X(datain_read_only, "3720-10.7-datain-only-for-read", "Data-In only for a command that reads")                 \
    X(datain_status_final, "3720-10.7-status-bit-implies-final", "the S bit is set only together with F")          \
    X(datain_status_value, "3720-10.7-error-status-not-in-data-in", "status in Data-In is never CHECK CONDITION (it has no room for sense)") \
    X(datain_ttt_lun, "3720-10.7-no-a-bit-at-erl0", "at ErrorRecoveryLevel 0 the A bit is 0") \
    X(datain_burst, "3720-10.7-data-in-sequence-within-maxburst", "a Data-In sequence is no longer than MaxBurstLength")  \
    X(datain_final_last, "3720-10.7-data-in-final-bit-per-sequence", "the last Data-In of a task has F set")                   \
    X(dataout_ttt, "3720-10.7-data-out-ttt-copies-r2t", "a Data-Out names the R2T's TTT, or 0xffffffff when unsolicited") \
    X(dataout_datasn, "3720-10.7-data-out-datasn-per-sequence", "Data-Out PDUs of a sequence are numbered from 0 up by one") \
    X(dataout_within_r2t, "3720-10.8-answer-within-r2t-range", "solicited data stays within the R2T's offset and length") \
    X(unsolicited_allowed, "3720-10.8-unsolicited-needs-initialr2t-no", "immediate data only with ImmediateData=Yes, unsolicited Data-Out only with InitialR2T=No") \
    X(unsolicited_first_burst, "3720-10.7-unsolicited-within-firstburst", "unsolicited data is no more than FirstBurstLength") \
    X(r2t_sequence, "3720-10.8-r2tsn-sequence", "R2Ts of a task are numbered from 0 up by one")                    \
    X(r2t_length, "3720-10.8-ddtl-within-maxburst", "an R2T asks for more than 0 and at most MaxBurstLength bytes") \
    X(r2t_within_edtl, "3720-10.8-r2t-within-edtl", "an R2T asks for nothing beyond the expected data length")    \
    X(r2t_ttt, "3720-10.8-ttt-not-reserved-value", "an R2T's TTT is not 0xffffffff")                                 \
    X(r2t_write_only, "3720-10.8-r2t-only-for-write", "R2T only for a command that writes")                      \
    X(r2t_outstanding, "3720-10.8-outstanding-r2t-limit", "no more R2Ts outstanding for a task than MaxOutstandingR2T") \
    X(r2t_statsn, "3720-10.8-statsn-not-advanced", "an R2T carries the next StatSN without advancing it")          \
    X(r2t_unsolicited_overlap, "3720-3.2-no-discard-then-r2t", "an R2T does not ask again for data sent unsolicited") \
    /* task management, RFC 3720 §10.5, §10.6 */                                                                  \
    X(tmf_response_known, "3720-10.5-every-request-answered", "a TMF Response answers a TMF Request of the connection") \
    X(tmf_response_code, "3720-10.6-response-code-defined-values", "the TMF response code is one RFC 3720 defines")    \
    X(tmf_no_status_after, "3720-10.5-acts-on-lower-cmdsn", "a task a completed TMF ended gets no status or data after the TMF Response") \
    /* NOP, RFC 3720 §10.18, §10.19 */                                                                           \
    X(nopin_reply, "3720-10.19-nopin-answers-nopout-itt", "a NOP-Out with a valid ITT gets a NOP-In with the same ITT and TTT 0xffffffff") \
    X(nopin_echo_data, "3720-10.19-nopin-echoes-ping-data", "the NOP-In answering a ping returns its data")          \
    X(nopin_unsolicited_empty, "3720-10.19-unsolicited-nopin-no-data", "a NOP-In that answers no ping carries no data") \
    X(nopout_ttt_echo, "3720-10.18-nopout-ttt-only-when-answering", "a NOP-Out answering a NOP-In ping copies its TTT")        \
    X(nopout_reserved_itt_immediate, "3720-10.18-nopout-reserved-itt-immediate", "a NOP-Out with ITT 0xffffffff has the I bit set") \
    /* text, RFC 3720 §10.10, §10.11 */                                                                           \
    X(text_rsp_itt, "3720-10.11-text-itt-echo", "a Text Response carries its request's ITT")                  \
    X(text_c_f_exclusive, "3720-10.11-text-continue-not-final", "F and C are never both set in a Text PDU")      \
    X(text_ttt, "3720-10.11-text-final-ttt-reserved", "a final Text Response has TTT 0xffffffff; one asking for more has another TTT") \
    X(text_ttt_echo, "3720-10.11-initiator-copies-ttt", "a Text Request continuing a response copies its TTT")     \
    /* logout, RFC 3720 §10.14, §10.15 */                                                                         \
    X(logout_rsp_itt, "3720-10.15-logout-response-itt-echo", "a Logout Response carries the request's ITT")              \
    X(logout_rsp_code, "3720-10.15-logout-response-code-valid", "the Logout response code is one RFC 3720 defines") \
    X(logout_last, "3720-7.1-logout-response-then-close", "after a Logout Response that closes the connection the target sends nothing more on it") \
    /* reject, RFC 3720 §10.17 */                                                                                 \
    X(reject_header, "3720-10.17-reject-carries-bad-header", "a Reject carries the complete header of the PDU it rejects") \
    X(reject_reason, "3720-10.17-reject-reason-defined", "the Reject reason is one RFC 3720 defines")              \
    X(reject_itt, "3720-10.17-reject-itt-reserved", "a Reject's ITT field is 0xffffffff")                          \
    X(reject_real_pdu, "3720-10.17-rejected-pdu-was-sent", "the header a Reject carries is one the initiator sent") \
    /* asynchronous messages, RFC 3720 §10.9 */                                                                   \
    X(async_itt, "3720-10.9-header-fixed-fields", "an Asynchronous Message's ITT is 0xffffffff")                    \
    X(async_event, "3720-10.9-event-code-defined-values", "AsyncEvent is one RFC 3720 defines")                             \
    /* discovery sessions, RFC 3720 §3.3 */                                                                       \
    X(discovery_no_scsi, "3720-12.21-discovery-session-accepts-only-sendtargets-and-logout", "a discovery session carries no SCSI data or status")

enum class Rule : std::uint16_t {
#define ISCSILAB_RULE_ENUM(name, id, text) name,
    ISCSILAB_WIRE_RULES(ISCSILAB_RULE_ENUM)
#undef ISCSILAB_RULE_ENUM
    count_
};

inline constexpr std::size_t RULE_COUNT = static_cast<std::size_t>(Rule::count_);

struct RuleInfo {
    std::string_view id;
    std::string_view text;
};

// Every rule, in enum order.
std::span<const RuleInfo> rules();
inline const RuleInfo& info(Rule r) { return rules()[static_cast<std::size_t>(r)]; }

}  // namespace iscsilab::checker
