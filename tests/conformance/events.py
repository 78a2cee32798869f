"""Small diagrams, one per BPMN event construct, written for the conformance tests (tests/conformance/)."""

from __future__ import annotations

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'id="definitions" targetNamespace="http://signpost.example/conformance">\n'
)


def diagram(process_id: str, body: str, root_elements: str = "") -> str:
    """A definitions document with ``root_elements`` (messages, signals, errors…) and one process."""
    return (
        f'{HEADER}{root_elements}\n  <bpmn:process id="{process_id}" isExecutable="true">\n{body}\n'
        "  </bpmn:process>\n</bpmn:definitions>\n"
    )


def flows(*pairs: tuple[str, str, str]) -> str:
    return "\n".join(
        f'    <bpmn:sequenceFlow id="{i}" sourceRef="{s}" targetRef="{t}"/>' for i, s, t in pairs
    )


def user_task(task_id: str, incoming: str, outgoing: str) -> str:
    return (
        f'    <bpmn:userTask id="{task_id}" name="{task_id}"><bpmn:incoming>{incoming}</bpmn:incoming>'
        f"<bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:userTask>"
    )


def end(end_id: str, incoming: str) -> str:
    return f'    <bpmn:endEvent id="{end_id}"><bpmn:incoming>{incoming}</bpmn:incoming></bpmn:endEvent>'


def start(outgoing: str = "f_start") -> str:
    return f'    <bpmn:startEvent id="start"><bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:startEvent>'


# An error boundary (with a code) on the first task: the start must not take the code for a timer.
ERROR_ON_FIRST_TASK = diagram(
    "error_on_first_task",
    "\n".join(
        [
            start(),
            user_task("ask", "f_start", "f_done"),
            '    <bpmn:boundaryEvent id="refused" attachedToRef="ask">'
            '<bpmn:outgoing>f_refused</bpmn:outgoing><bpmn:errorEventDefinition errorRef="err_refused"/>'
            "</bpmn:boundaryEvent>",
            end("done", "f_done"),
            end("other_path", "f_refused"),
            flows(
                ("f_start", "start", "ask"), ("f_done", "ask", "done"), ("f_refused", "refused", "other_path")
            ),
        ]
    ),
    '  <bpmn:error id="err_refused" name="Refused" errorCode="REFUSED"/>',
)

# "The service refused -> take the other path": a subprocess ends with an error end event when the data say
# so, and the interrupting error boundary on the subprocess takes the referral to a review task.
REFUSAL_TAKES_THE_OTHER_PATH = diagram(
    "refusal_takes_the_other_path",
    "\n".join(
        [
            start(),
            '    <bpmn:subProcess id="ask_service" name="Ask the service">'
            "<bpmn:incoming>f_start</bpmn:incoming><bpmn:outgoing>f_accepted</bpmn:outgoing>",
            '      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>',
            '      <bpmn:exclusiveGateway id="answer" default="s_yes"><bpmn:incoming>s1</bpmn:incoming>'
            "<bpmn:outgoing>s_no</bpmn:outgoing><bpmn:outgoing>s_yes</bpmn:outgoing></bpmn:exclusiveGateway>",
            '      <bpmn:endEvent id="refuse"><bpmn:incoming>s_no</bpmn:incoming>'
            '<bpmn:errorEventDefinition errorRef="err_refused"/></bpmn:endEvent>',
            '      <bpmn:endEvent id="sub_end"><bpmn:incoming>s_yes</bpmn:incoming></bpmn:endEvent>',
            '      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="answer"/>',
            '      <bpmn:sequenceFlow id="s_no" sourceRef="answer" targetRef="refuse">'
            "<bpmn:conditionExpression>refused</bpmn:conditionExpression></bpmn:sequenceFlow>",
            '      <bpmn:sequenceFlow id="s_yes" sourceRef="answer" targetRef="sub_end"/>',
            "    </bpmn:subProcess>",
            '    <bpmn:boundaryEvent id="on_refusal" attachedToRef="ask_service">'
            '<bpmn:outgoing>f_refused</bpmn:outgoing><bpmn:errorEventDefinition errorRef="err_refused"/>'
            "</bpmn:boundaryEvent>",
            user_task("review_refusal", "f_refused", "f_reviewed"),
            end("accepted", "f_accepted"),
            end("reviewed", "f_reviewed"),
            flows(
                ("f_start", "start", "ask_service"),
                ("f_accepted", "ask_service", "accepted"),
                ("f_refused", "on_refusal", "review_refusal"),
                ("f_reviewed", "review_refusal", "reviewed"),
            ),
        ]
    ),
    '  <bpmn:error id="err_refused" name="Refused" errorCode="REFUSED"/>',
)

# An error end event that nothing catches.
UNCAUGHT_ERROR = diagram(
    "uncaught_error",
    "\n".join(
        [
            start(),
            '    <bpmn:endEvent id="fail"><bpmn:incoming>f_start</bpmn:incoming>'
            '<bpmn:errorEventDefinition errorRef="err_gone"/></bpmn:endEvent>',
            flows(("f_start", "start", "fail")),
        ]
    ),
    '  <bpmn:error id="err_gone" name="Patient moved away" errorCode="MOVED_AWAY"/>',
)

# A non-interrupting escalation boundary: the subprocess escalates and goes on; the duty manager is told.
ESCALATION_GOES_ON = diagram(
    "escalation_goes_on",
    "\n".join(
        [
            start(),
            '    <bpmn:subProcess id="work" name="Work"><bpmn:incoming>f_start</bpmn:incoming>'
            "<bpmn:outgoing>f_worked</bpmn:outgoing>",
            '      <bpmn:startEvent id="work_start"><bpmn:outgoing>w1</bpmn:outgoing></bpmn:startEvent>',
            '      <bpmn:intermediateThrowEvent id="raise"><bpmn:incoming>w1</bpmn:incoming>'
            '<bpmn:outgoing>w2</bpmn:outgoing><bpmn:escalationEventDefinition escalationRef="esc_late"/>'
            "</bpmn:intermediateThrowEvent>",
            '      <bpmn:userTask id="carry_on" name="carry_on"><bpmn:incoming>w2</bpmn:incoming>'
            "<bpmn:outgoing>w3</bpmn:outgoing></bpmn:userTask>",
            '      <bpmn:endEvent id="work_end"><bpmn:incoming>w3</bpmn:incoming></bpmn:endEvent>',
            '      <bpmn:sequenceFlow id="w1" sourceRef="work_start" targetRef="raise"/>',
            '      <bpmn:sequenceFlow id="w2" sourceRef="raise" targetRef="carry_on"/>',
            '      <bpmn:sequenceFlow id="w3" sourceRef="carry_on" targetRef="work_end"/>',
            "    </bpmn:subProcess>",
            '    <bpmn:boundaryEvent id="escalated" attachedToRef="work" cancelActivity="false">'
            "<bpmn:outgoing>f_escalated</bpmn:outgoing>"
            '<bpmn:escalationEventDefinition escalationRef="esc_late"/>'
            "</bpmn:boundaryEvent>",
            user_task("tell_duty_manager", "f_escalated", "f_told"),
            end("told", "f_told"),
            end("worked", "f_worked"),
            flows(
                ("f_start", "start", "work"),
                ("f_worked", "work", "worked"),
                ("f_escalated", "escalated", "tell_duty_manager"),
                ("f_told", "tell_duty_manager", "told"),
            ),
        ]
    ),
    '  <bpmn:escalation id="esc_late" name="Running late" escalationCode="LATE"/>',
)

# "Accepted, or escalate after 5 days": the OLA pattern.
ACCEPTED_OR_ESCALATE = diagram(
    "accepted_or_escalate",
    "\n".join(
        [
            start(),
            '    <bpmn:eventBasedGateway id="first_of"><bpmn:incoming>f_start</bpmn:incoming>'
            "<bpmn:outgoing>f_msg</bpmn:outgoing><bpmn:outgoing>f_timer</bpmn:outgoing></bpmn:eventBasedGateway>",
            '    <bpmn:intermediateCatchEvent id="accepted" name="Accepted">'
            "<bpmn:incoming>f_msg</bpmn:incoming>"
            '<bpmn:outgoing>f_ok</bpmn:outgoing><bpmn:messageEventDefinition messageRef="msg_accepted"/>'
            "</bpmn:intermediateCatchEvent>",
            '    <bpmn:intermediateCatchEvent id="five_days" name="Five days">'
            "<bpmn:incoming>f_timer</bpmn:incoming><bpmn:outgoing>f_late</bpmn:outgoing>"
            '<bpmn:timerEventDefinition><bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
            "</bpmn:intermediateCatchEvent>",
            end("in_time", "f_ok"),
            user_task("escalate", "f_late", "f_escalated"),
            end("escalated", "f_escalated"),
            flows(
                ("f_start", "start", "first_of"),
                ("f_msg", "first_of", "accepted"),
                ("f_timer", "first_of", "five_days"),
                ("f_ok", "accepted", "in_time"),
                ("f_late", "five_days", "escalate"),
                ("f_escalated", "escalate", "escalated"),
            ),
        ]
    ),
    '  <bpmn:message id="msg_accepted" name="case.accepted"/>',
)

# A start event with two triggers (a multiple event): either message starts the work.
EITHER_MESSAGE_STARTS = diagram(
    "either_message_starts",
    "\n".join(
        [
            '    <bpmn:startEvent id="start"><bpmn:outgoing>f_start</bpmn:outgoing>'
            '<bpmn:messageEventDefinition messageRef="msg_phone"/>'
            '<bpmn:messageEventDefinition messageRef="msg_letter"/></bpmn:startEvent>',
            user_task("triage", "f_start", "f_done"),
            end("done", "f_done"),
            flows(("f_start", "start", "triage"), ("f_done", "triage", "done")),
        ]
    ),
    '  <bpmn:message id="msg_phone" name="contact.phone"/>\n'
    '  <bpmn:message id="msg_letter" name="contact.letter"/>',
)

# Two messages correlated by a BPMN correlation property: the second must carry the first one's case id.
CORRELATED_ANSWERS = diagram(
    "correlated_answers",
    "\n".join(
        [
            start(),
            '    <bpmn:intermediateCatchEvent id="first"><bpmn:incoming>f_start</bpmn:incoming>'
            '<bpmn:outgoing>f_first</bpmn:outgoing><bpmn:messageEventDefinition messageRef="msg_answer"/>'
            "</bpmn:intermediateCatchEvent>",
            '    <bpmn:intermediateCatchEvent id="second"><bpmn:incoming>f_first</bpmn:incoming>'
            '<bpmn:outgoing>f_second</bpmn:outgoing><bpmn:messageEventDefinition messageRef="msg_follow_up"/>'
            "</bpmn:intermediateCatchEvent>",
            end("answered", "f_second"),
            flows(
                ("f_start", "start", "first"),
                ("f_first", "first", "second"),
                ("f_second", "second", "answered"),
            ),
        ]
    ),
    """  <bpmn:collaboration id="collaboration">
    <bpmn:participant id="participant" processRef="correlated_answers"/>
    <bpmn:correlationKey id="case_key" name="case">
      <bpmn:correlationPropertyRef>case_id</bpmn:correlationPropertyRef>
    </bpmn:correlationKey>
  </bpmn:collaboration>
  <bpmn:message id="msg_answer" name="case.answer"/>
  <bpmn:message id="msg_follow_up" name="case.follow_up"/>
  <bpmn:correlationProperty id="case_id" name="Case id">
    <bpmn:correlationPropertyRetrievalExpression messageRef="msg_answer">
      <bpmn:messagePath>case_id</bpmn:messagePath>
    </bpmn:correlationPropertyRetrievalExpression>
    <bpmn:correlationPropertyRetrievalExpression messageRef="msg_follow_up">
      <bpmn:messagePath>case_id</bpmn:messagePath>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>""",
)

# A signal from outside: the service closes for the day and every waiting referral moves on.
WAITS_FOR_A_SIGNAL = diagram(
    "waits_for_a_signal",
    "\n".join(
        [
            start(),
            '    <bpmn:intermediateCatchEvent id="closed" name="Service closed">'
            "<bpmn:incoming>f_start</bpmn:incoming>"
            '<bpmn:outgoing>f_closed</bpmn:outgoing><bpmn:signalEventDefinition signalRef="sig_closed"/>'
            "</bpmn:intermediateCatchEvent>",
            user_task("rebook", "f_closed", "f_done"),
            end("done", "f_done"),
            flows(
                ("f_start", "start", "closed"), ("f_closed", "closed", "rebook"), ("f_done", "rebook", "done")
            ),
        ]
    ),
    '  <bpmn:signal id="sig_closed" name="service.closed"/>',
)

# A signal start event: the referral waits, from its start, for the signal that starts its work.
SIGNAL_STARTS = diagram(
    "signal_starts",
    "\n".join(
        [
            '    <bpmn:startEvent id="start"><bpmn:outgoing>f_start</bpmn:outgoing>'
            '<bpmn:signalEventDefinition signalRef="sig_open"/></bpmn:startEvent>',
            user_task("work", "f_start", "f_done"),
            end("done", "f_done"),
            flows(("f_start", "start", "work"), ("f_done", "work", "done")),
        ]
    ),
    '  <bpmn:signal id="sig_open" name="service.opened"/>',
)

# A link throw event continues at the link catch event of the same name ("off-page connector").
LINKED = diagram(
    "linked",
    "\n".join(
        [
            start(),
            '    <bpmn:intermediateThrowEvent id="to_page_two"><bpmn:incoming>f_start</bpmn:incoming>'
            '<bpmn:linkEventDefinition name="page two"/></bpmn:intermediateThrowEvent>',
            '    <bpmn:intermediateCatchEvent id="page_two"><bpmn:outgoing>f_linked</bpmn:outgoing>'
            '<bpmn:linkEventDefinition name="page two"/></bpmn:intermediateCatchEvent>',
            user_task("after_the_link", "f_linked", "f_done"),
            end("done", "f_done"),
            flows(
                ("f_start", "start", "to_page_two"),
                ("f_linked", "page_two", "after_the_link"),
                ("f_done", "after_the_link", "done"),
            ),
        ]
    ),
)

BROKEN_LINK = LINKED.replace(
    '<bpmn:linkEventDefinition name="page two"/></bpmn:intermediateThrowEvent>',
    '<bpmn:linkEventDefinition name="page three"/></bpmn:intermediateThrowEvent>',
)

# A transaction cancelled from inside: the cancel boundary takes the referral to a rebooking task.
CANCELLED_BOOKING = diagram(
    "cancelled_booking",
    "\n".join(
        [
            start(),
            '    <bpmn:transaction id="booking" name="Book a visit"><bpmn:incoming>f_start</bpmn:incoming>'
            "<bpmn:outgoing>f_booked</bpmn:outgoing>",
            '      <bpmn:startEvent id="booking_start"><bpmn:outgoing>b1</bpmn:outgoing></bpmn:startEvent>',
            '      <bpmn:exclusiveGateway id="slot" default="b_ok"><bpmn:incoming>b1</bpmn:incoming>'
            "<bpmn:outgoing>b_none</bpmn:outgoing><bpmn:outgoing>b_ok</bpmn:outgoing></bpmn:exclusiveGateway>",
            '      <bpmn:endEvent id="give_up"><bpmn:incoming>b_none</bpmn:incoming>'
            "<bpmn:cancelEventDefinition/></bpmn:endEvent>",
            '      <bpmn:endEvent id="booked_end"><bpmn:incoming>b_ok</bpmn:incoming></bpmn:endEvent>',
            '      <bpmn:sequenceFlow id="b1" sourceRef="booking_start" targetRef="slot"/>',
            '      <bpmn:sequenceFlow id="b_none" sourceRef="slot" targetRef="give_up">'
            "<bpmn:conditionExpression>not slot_free</bpmn:conditionExpression></bpmn:sequenceFlow>",
            '      <bpmn:sequenceFlow id="b_ok" sourceRef="slot" targetRef="booked_end"/>',
            "    </bpmn:transaction>",
            '    <bpmn:boundaryEvent id="booking_cancelled" attachedToRef="booking">'
            "<bpmn:outgoing>f_cancelled</bpmn:outgoing><bpmn:cancelEventDefinition/></bpmn:boundaryEvent>",
            user_task("rebook", "f_cancelled", "f_rebooked"),
            end("booked", "f_booked"),
            end("rebooked", "f_rebooked"),
            flows(
                ("f_start", "start", "booking"),
                ("f_booked", "booking", "booked"),
                ("f_cancelled", "booking_cancelled", "rebook"),
                ("f_rebooked", "rebook", "rebooked"),
            ),
        ]
    ),
)

# An event subprocess started by an error: SpiffWorkflow would run it unconditionally, so it is refused.
ERROR_EVENT_SUBPROCESS = diagram(
    "error_event_subprocess",
    "\n".join(
        [
            start(),
            user_task("work", "f_start", "f_done"),
            end("done", "f_done"),
            '    <bpmn:subProcess id="on_failure" triggeredByEvent="true">',
            '      <bpmn:startEvent id="failure_start"><bpmn:outgoing>h1</bpmn:outgoing>'
            '<bpmn:errorEventDefinition errorRef="err_any"/></bpmn:startEvent>',
            '      <bpmn:endEvent id="failure_end"><bpmn:incoming>h1</bpmn:incoming></bpmn:endEvent>',
            '      <bpmn:sequenceFlow id="h1" sourceRef="failure_start" targetRef="failure_end"/>',
            "    </bpmn:subProcess>",
            flows(("f_start", "start", "work"), ("f_done", "work", "done")),
        ]
    ),
    '  <bpmn:error id="err_any" name="Any" errorCode="ANY"/>',
)

# Compensation, which SpiffWorkflow 3.2.0 does not run.
COMPENSATION = diagram(
    "compensation",
    "\n".join(
        [
            start(),
            user_task("book", "f_start", "f_booked"),
            '    <bpmn:boundaryEvent id="unbook" attachedToRef="book"><bpmn:compensateEventDefinition/>'
            "</bpmn:boundaryEvent>",
            '    <bpmn:intermediateThrowEvent id="undo"><bpmn:incoming>f_booked</bpmn:incoming>'
            "<bpmn:outgoing>f_undone</bpmn:outgoing><bpmn:compensateEventDefinition/></bpmn:intermediateThrowEvent>",
            end("done", "f_undone"),
            flows(("f_start", "start", "book"), ("f_booked", "book", "undo"), ("f_undone", "undo", "done")),
        ]
    ),
)

# A script that finds the service cannot take the referral throws a BPMN error; the boundary catches it.
SCRIPT_THROWS = diagram(
    "script_throws",
    "\n".join(
        [
            start(),
            '    <bpmn:scriptTask id="check" name="Check eligibility"><bpmn:incoming>f_start</bpmn:incoming>'
            "<bpmn:outgoing>f_eligible</bpmn:outgoing>"
            "<bpmn:script>if age &lt; 18:\n"
            "    bpmn_error('TOO_YOUNG', 'children go to the paediatric team')\n"
            "eligible = True</bpmn:script></bpmn:scriptTask>",
            '    <bpmn:boundaryEvent id="too_young" attachedToRef="check">'
            "<bpmn:outgoing>f_young</bpmn:outgoing>"
            '<bpmn:errorEventDefinition errorRef="err_young"/></bpmn:boundaryEvent>',
            user_task("refer_to_paediatrics", "f_young", "f_referred"),
            end("eligible", "f_eligible"),
            end("referred", "f_referred"),
            flows(
                ("f_start", "start", "check"),
                ("f_eligible", "check", "eligible"),
                ("f_young", "too_young", "refer_to_paediatrics"),
                ("f_referred", "refer_to_paediatrics", "referred"),
            ),
        ]
    ),
    '  <bpmn:error id="err_young" name="Too young" errorCode="TOO_YOUNG"/>',
)
