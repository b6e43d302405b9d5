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
    /* more framing and field rules, RFC 3720 §10 */                                                              \
    X(opcode_initiator, "3720-10.2-initiator-sends-initiator-opcodes", "the initiator sends only initiator opcodes") \
    X(ahs_zero, "3720-10.2-total-ahs-length-zero-without-ahs", "TotalAHSLength is 0 in every PDU but a SCSI Command") \
    X(data_words, "3720-10.7-segments-whole-words-unless-final", "a Data-In or Data-Out payload is a multiple of 4 bytes unless F is set") \
    X(data_mrdsl, "3720-10.7-segment-within-mrdsl", "Data-In and Data-Out stay within the receiver's MaxRecvDataSegmentLength") \
    X(text_req_mrdsl, "3720-10.10-request-within-mrdsl", "a Text Request stays within the target's MaxRecvDataSegmentLength") \
    X(text_rsp_mrdsl, "3720-10.11-text-response-within-mrdsl", "a Text Response stays within the initiator's MaxRecvDataSegmentLength") \
    X(rsp_final, "3720-10.4-final-bit-set", "a SCSI Response has F set")                                        \
    X(rsp_residual_bits_clear, "3720-10.4-residual-bits-clear-unless-completed", "o, u, O and U are clear unless the command completed at the target") \
    X(rsp_residual_zero, "3720-10.4-residual-count-zero-without-flags", "the residual counts are 0 without their flags") \
    X(expdatasn_zero, "3720-10.4-expdatasn-zero-unless-data-in", "ExpDataSN is 0 when the command did not complete or sent no Data-In") \
    X(autosense, "3720-9.2-autosense", "a SCSI Response with CHECK CONDITION carries its sense data")          \
    X(statsn_per_status, "3720-10.4-statsn-advances-per-status", "a SCSI Response or Data-In with S takes the next StatSN") \
    X(snack_tag_zero, "3720-10.4-snack-tag-zero-without-snack", "a SCSI Response's SNACK Tag is 0 without an R-Data SNACK") \
    X(no_rsp_after_datain_status, "3720-10.7-no-response-after-data-in-status", "no SCSI Response follows a Data-In with S") \
    X(datasn_from_zero, "3720-10.7-datasn-starts-at-zero", "the first Data-In of a command has DataSN 0")     \
    X(datasn_across_sequences, "3720-10.7-datasn-increments-across-sequences", "DataSN goes up by one per Data-In across sequences") \
    X(data_sequences_in_order, "3720-10.7-data-sequences-in-order", "with DataSequenceInOrder=Yes a task's sequences cover increasing ranges") \
    X(r2t_ranges_in_order, "3720-10.8-r2t-ranges-in-order", "with DataSequenceInOrder=Yes consecutive R2Ts ask for adjacent increasing ranges") \
    X(sequences_non_decreasing, "3720-12.19-sequences-non-decreasing", "with DataSequenceInOrder=Yes R2T offsets never go back") \
    X(r2t_final, "3720-10.8-final-bit-set", "byte 1 of an R2T is 0x80")                                         \
    X(r2t_no_data, "3720-10.8-no-ahs-or-data", "an R2T carries no AHS and no data")                             \
    X(r2t_ddtl_nonzero, "3720-10.8-ddtl-nonzero", "an R2T asks for more than 0 bytes")                           \
    X(r2tsn_from_zero, "3720-3.2-r2tsn-from-zero", "R2TSN counts 0, 1, 2 per task")                              \
    X(dataout_final, "3720-10.8-answer-ends-with-final", "the Data-Out that completes an R2T's range has F set, and F only then") \
    X(honours_r2t, "3720-3.2-initiator-honours-r2t", "the initiator sends all the data an R2T asks for")        \
    X(dataout_datasn_per_sequence, "3720-3.2-dataout-datasn-per-sequence", "Data-Out DataSN restarts at 0 per sequence") \
    X(data_pdus_in_order, "3720-12.18-data-pdus-in-order", "with DataPDUInOrder=Yes the data PDUs of a sequence follow each other") \
    X(unsolicited_total, "3720-3.2-unsolicited-total-first-burst", "separate unsolicited Data-Out adds up to FirstBurstLength or the whole transfer") \
    X(unsolicited_all_or_immediate, "3720-10.3-unsolicited-burst-all-or-immediate-only", "the unsolicited burst is all of min(FirstBurstLength, EDTL) or the immediate data only") \
    X(f_when_immediate_complete, "3720-10.3-f-set-when-immediate-data-completes-write", "a command whose immediate data is all its data has F set") \
    X(w_or_f, "3720-10.3-w-and-f-not-both-clear", "a SCSI Command never has W and F both clear")               \
    X(direction_bit, "3720-10.3-direction-bit-when-data-expected", "a command expecting data sets R or W")     \
    X(itt_unique, "3720-10.2-itt-unique-while-task-exists", "an ITT is not reused while its task is open")    \
    X(tmf_final, "3720-10.6-final-bit-set", "byte 1 of a TMF Response is 0x80")                               \
    X(tmf_no_data, "3720-10.6-no-ahs-or-data", "a TMF Response carries no AHS and no data")                     \
    X(refcmdsn_queued, "3720-10.5-refcmdsn-for-queued-task", "ABORT TASK of a queued task names its CmdSN in RefCmdSN") \
    X(refcmdsn_immediate, "3720-10.5-refcmdsn-for-immediate-task", "ABORT TASK of an immediate task names the TMF's own CmdSN") \
    X(abort_of_tmf, "3720-10.5-abort-of-tmf-rejected", "ABORT TASK of a TMF is answered Function rejected (255)") \
    X(abort_live, "3720-10.6-abort-task-live-task-complete", "ABORT TASK of a task still open is answered Function complete") \
    X(abort_unknown_outside, "3720-10.6-abort-task-unknown-outside-window", "ABORT TASK of an unknown task with RefCmdSN outside the window is answered Task does not exist") \
    X(nopin_ttt_reply, "3720-10.19-nopin-ttt-reserved-in-reply", "a NOP-In answering a ping has TTT 0xffffffff") \
    X(nopin_unsolicited_itt, "3720-10.19-unsolicited-nopin-itt-reserved", "a NOP-In that answers no ping has ITT 0xffffffff") \
    X(nopin_unsolicited_statsn, "3720-10.19-unsolicited-nopin-statsn-not-advanced", "a NOP-In with ITT 0xffffffff repeats the next StatSN") \
    X(nopin_reply_statsn, "3720-10.19-nopin-reply-statsn-advances", "a NOP-In answering a ping takes the next StatSN") \
    X(nopout_lun, "3720-10.18-nopout-copies-lun", "a NOP-Out answering a NOP-In copies its LUN")                \
    X(text_not_final_ttt, "3720-10.11-text-not-final-ttt-valid", "a Text Response with F=0 has a TTT other than 0xffffffff") \
    X(text_ttt_when_not_final, "3720-5.4-ttt-when-not-final", "a Text Response that is not final names a TTT") \
    X(text_final_for_final, "3720-10.11-text-final-only-for-final-request", "a Text Request with F=0 is not answered with F=1") \
    X(text_one_outstanding, "3720-10.10-one-outstanding-text-request", "at most one Text Request awaits its response") \
    X(text_continue_not_final, "3720-10.10-continue-implies-not-final", "a Text Request with C set has F clear") \
    X(text_itt_constant, "3720-10.10-itt-constant-in-sequence", "a continued Text exchange keeps its ITT")     \
    /* more login, RFC 3720 §5.3, §10.12, §10.13 */                                                               \
    X(version_zero, "3720-10.12-version-zero", "Version-max and Version-min of requests and Version-max of responses are 0") \
    X(version_same, "3720-10.12-version-same-across-requests", "the Login Requests of a login keep their versions") \
    X(tsih_same, "3720-10.12-tsih-same-across-requests", "the Login Requests of a login keep their TSIH")    \
    X(cid_same, "3720-10.12-cid-same-across-requests", "the Login Requests of a login keep their CID")       \
    X(leading_expcmdsn, "3720-10.12-leading-login-cmdsn-sets-expcmdsn", "a leading login's responses carry ExpCmdSN equal to the request's CmdSN") \
    X(version_max_constant, "3720-10.13-version-max-constant", "the Login Responses of a login keep Version-max") \
    X(version_active_constant, "3720-10.13-version-active-constant", "the Login Responses of a login keep Version-active") \
    X(tsih_nonzero_final, "3720-10.13-new-session-tsih-nonzero-in-final", "a new session's final Login Response has a non-zero TSIH") \
    X(tsih_with_ffp, "3720-5.3-tsih-with-ffp-transition", "the Login Response moving to full feature phase carries the TSIH") \
    X(redirect_address, "3720-10.13-redirect-has-targetaddress", "a redirection carries a TargetAddress")        \
    X(rsp_continue_not_transit, "3720-10.13-continue-not-transit", "a Login Response with C has T clear")      \
    X(req_continue_not_transit, "3720-10.12-login-continue-not-transit", "a Login Request with C has T clear") \
    X(failed_login_closes, "3720-10.13-failed-login-closes-connection", "after a failed login neither side sends another PDU") \
    X(final_accept_shape, "3720-5.3-final-accept-shape", "the accepting Login Response answers a request with T=1 and NSG 3") \
    X(stage_transitions, "3720-5.3-stage-transitions", "login stages move forward only: 0 to 1 or 3, 1 to 3")    \
    X(tpgt_first_response, "3720-5.3-tpgt-first-response", "the first Login Response of a normal session names the portal group") \
    X(answer_continue_empty, "3720-5.2-answer-continue-with-empty", "a request with C set is answered with an empty response") \
    X(initiator_continue_empty, "3720-5.2-initiator-answers-continue-with-empty", "a response with C set is followed by an empty request") \
    X(initiatorname_first, "3720-5.3-initiatorname-first", "the first Login Request carries InitiatorName")    \
    X(initiatorname_first_12, "3720-12.5-initiatorname-in-first-login", "the first Login Request carries InitiatorName") \
    X(targetname_first, "3720-5.3-targetname-first", "the first Login Request of a normal session carries TargetName") \
    X(targetname_first_12, "3720-12.4-targetname-in-first-login", "the first Login Request of a normal session carries TargetName") \
    X(target_no_targetname, "3720-12.4-target-sends-targetname-only-for-sendtargets", "the target sends TargetName only in SendTargets answers") \
    X(initiator_no_targetalias, "3720-12.6-targetalias-target-only", "the initiator never sends TargetAlias")    \
    X(initiator_no_targetaddress, "3720-12.8-targetaddress-target-only", "the initiator never sends TargetAddress") \
    X(initiator_no_tpgt, "3720-12.9-tpgt-target-only", "the initiator never sends TargetPortalGroupTag")          \
    X(sendtargets_text_only, "3720-12.3-sendtargets-text-only", "SendTargets never appears in a Login Request") \
    X(initiatorname_once, "3720-12.5-initiatorname-not-redeclared", "InitiatorName is declared once per login") \
    X(targetname_once, "3720-12.4-targetname-not-redeclared", "TargetName is declared once per login")          \
    X(sendtargets_address_tpgt, "3720-12.8-sendtargets-targetaddress-has-tpgt", "a SendTargets TargetAddress ends with ,tpgt") \
    X(redirect_address_no_tpgt, "3720-12.8-redirect-targetaddress-no-tpgt", "a redirection's TargetAddress has no ,tpgt") \
    X(key_maxconnections, "3720-12.2-maxconnections-minimum", "MaxConnections is answered within 1..65535 and no higher than offered") \
    X(key_initialr2t, "3720-12.10-initialr2t-or", "InitialR2T offered Yes is answered Yes")                        \
    X(key_immediatedata, "3720-12.11-immediatedata-and", "ImmediateData offered No is answered No")               \
    X(key_maxburst, "3720-12.13-maxburstlength-minimum", "MaxBurstLength is answered within range and no higher than offered") \
    X(key_firstburst, "3720-12.14-firstburstlength-minimum", "FirstBurstLength is answered within range and no higher than offered") \
    X(key_time2retain, "3720-12.16-defaulttime2retain-minimum", "DefaultTime2Retain is answered within range and no higher than offered") \
    X(key_maxoutstandingr2t, "3720-12.17-maxoutstandingr2t-minimum", "MaxOutstandingR2T is answered within range and no higher than offered") \
    X(key_datapduinorder, "3720-12.18-datapduinorder-or", "DataPDUInOrder offered Yes is answered Yes")         \
    X(key_datasequenceinorder, "3720-12.19-datasequenceinorder-or", "DataSequenceInOrder offered Yes is answered Yes") \
    X(key_erl, "3720-12.20-errorrecoverylevel-minimum", "ErrorRecoveryLevel is answered within 0..2 and no higher than offered") \
    X(erl0_supported, "3720-6.1-erl0-supported", "ErrorRecoveryLevel=0 is accepted")                              \
    X(one_r2t_erl, "3720-12.19-one-r2t-when-erl-and-sequence-order", "ErrorRecoveryLevel > 0 with DataSequenceInOrder=Yes leaves MaxOutstandingR2T 1") \
    X(key_name_format, "3720-5.1-key-name-format", "key names start with a capital letter and use letters, digits and . - + @ _") \
    X(reserved_constants_not_proposed, "3720-5.2-key-reserved-constants-not-proposed", "Reject, Irrelevant and NotUnderstood are only ever answers") \
    X(reserved_constants, "3720-5.2-reserved-constants", "the reserved constants appear only in their roles")  \
    X(standard_keys_understood, "3720-5.2-standard-keys-understood", "a key of the RFC is never answered NotUnderstood") \
    X(chapter12_keys_supported, "3720-10.13-chapter12-keys-supported", "a chapter 12 key is never answered NotUnderstood") \
    X(notunderstood_answer, "3720-5.2-notunderstood-answer", "an unknown key is answered NotUnderstood")         \
    X(boolean_answer_required, "3720-5.2-boolean-answer-required", "a boolean offer not settled by itself gets an answer") \
    X(none_only_if_offered, "3720-5.2-none-only-if-offered", "None is chosen only when offered")                  \
    X(auth_keys_security_stage, "3720-11.1-auth-keys-security-stage-only", "AuthMethod and CHAP keys appear only in the security stage") \
    X(chap_md5_offered, "3720-11.1-chap-a-offers-md5", "the initiator's CHAP_A lists 5 (MD5)")                   \
    X(chap_algorithm_offered, "3720-11.1-chap-algorithm-from-offer", "the target's CHAP_A is one the initiator offered") \
    X(chap_aic, "3720-11.1-chap-target-sends-a-i-c", "the target answers CHAP_A with CHAP_A, CHAP_I and CHAP_C") \
    X(chap_length, "3720-11.1-chap-binary-length-limit", "CHAP_C and CHAP_R hold at most 1024 bytes")            \
    X(extension_normal_only, "3720-12.22-extension-keys-normal-sessions-only", "X- keys are not offered in discovery sessions") \
    X(extension_name_format, "3720-12.22-extension-key-name-format", "an X- key name follows the key-name format") \
    /* more logout, reject, async, discovery, CmdSN */                                                           \
    X(logout_rsp_no_data, "3720-10.15-logout-response-no-data", "a Logout Response carries no AHS and no data") \
    X(logout_req_no_data, "3720-10.14-logout-request-no-data", "a Logout Request carries no AHS and no data")   \
    X(recovery_logout, "3720-10.15-recovery-logout-below-erl2", "a logout for recovery below ErrorRecoveryLevel 2 is answered 2") \
    X(no_requests_after_logout, "3720-10.14-no-new-requests-after-logout", "the initiator sends no request after its Logout Request") \
    X(reject_statsn, "3720-10.17-reject-advances-statsn", "a Reject takes the next StatSN")                      \
    X(async_statsn, "3720-10.9-advances-statsn", "an Asynchronous Message takes the next StatSN")              \
    X(async_reserved, "3720-10.9-lun-and-vcode-reserved-otherwise", "LUN and AsyncVCode are 0 unless their event uses them") \
    X(discovery_rejects, "3720-3.3-discovery-rejects-others", "a SCSI Command or TMF in a discovery session is rejected") \
    X(discovery_only, "3720-3.3-discovery-only-sendtargets-logout", "a discovery session acts only on SendTargets and Logout") \
    X(transit_no_open_keys, "3720-10.13-transit-no-open-keys", "a Login Response with T=1 offers no key that needs an answer") \
    X(transit_no_open_keys_53, "3720-5.3-no-open-keys-with-transit", "a Login Response with T=1 offers no key that needs an answer") \
    X(text_final_no_open_keys, "3720-10.11-text-final-no-open-keys", "a final Text Response offers no key that needs an answer") \
    X(text_final_no_open_keys_54, "3720-5.4-no-open-keys-with-final", "a final Text Response offers no key that needs an answer") \
    X(task_lun, "3720-3.2-task-pdus-match-command-lun", "an R2T repeats its command's LUN")                 \
    X(dataout_same_connection, "3720-3.2-dataout-same-connection", "Data-Out names a task of its own connection") \
    X(immediate_cmdsn, "3720-3.2-immediate-carries-current-cmdsn", "an immediate command carries the current CmdSN") \
    X(cmdsn_in_order, "3720-3.2-initiator-sends-cmdsn-in-order", "non-immediate CmdSNs rise on a connection")   \
    X(duplicate_cmdsn_ignored, "3720-3.2-ignore-duplicate-cmdsn", "a second command with a CmdSN in use gets no response") \
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
