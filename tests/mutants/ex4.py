"""Exercise 4 mutants: deduplication that loses or repeats payments."""

from tests.mutants import Mutant

FILE = "exercise_exactly_once.py"
BY_CUSTOMER = (('    payment_id = payment["payment_id"]\n',
                '    payment_id = payment["customer"]\n'),)
REPLAYED = "    for payment in payments:\n        process_payment(dict(payment))\n"
PROCESSING = "    print(f\"Processing payment {payment_id}: {payment.get('amount')} \"\n"

MUTANTS = [
    Mutant("ex4", "dedup by customer", FILE, BY_CUSTOMER,
           "payments_of_one_customer_are_all_processed",
           r"two different payments .* Both must be processed"),
    Mutant("ex4", "dedup by customer loses payments", FILE, BY_CUSTOMER,
           "every_payment_is_processed", r"payments in 'payments' were never processed"),
    Mutant("ex4", "marked before processing", FILE,
           ((PROCESSING, "    mark_processed(payment_id)\n" + PROCESSING),
            ("    mark_processed(payment_id)\n    return True\n", "    return True\n")),
           "payment_is_marked_only_after_processing",
           r"had been called before the failure"),
    # "As after a restart" taken literally: the store of processed ids is emptied.
    Mutant("ex4", "store emptied before the second pass", FILE,
           (('    consume_from_beginning("Second pass")\n',
             '    processed_ids.clear()\n    consume_from_beginning("Second pass")\n'),),
           "no_payment_is_processed_twice", r"processed more than once"),
    Mutant("ex4", "no duplicate check", FILE,
           (("    return message_id in processed_ids\n", "    return False\n"),),
           "a_redelivered_payment_is_processed_once", r"Expected True, then False"),
    # Both passes hand process_payment the payments main() kept, never reading the topic.
    Mutant("ex4", "payments never consumed", FILE,
           (("    produce_payments(NUM_PAYMENTS)\n",
             "    payments = produce_payments(NUM_PAYMENTS)\n"),
            ('    consume_from_beginning("First pass")\n', REPLAYED),
            ('    consume_from_beginning("Second pass")\n', REPLAYED)),
           "processed_payments_are_consumed_from_the_topic",
           r"more often than main\(\) had consumed them from 'payments' \(it polled 0 "),
    Mutant("ex4", "no second pass", FILE,
           (('    consume_from_beginning("Second pass")\n', ""),),
           "second_pass_reads_every_payment_again", r"fewer than twice"),
]
