#!/usr/bin/env python3
"""Declares the pipeline on the queue service: the `uploads` topic, the `resize` and `tag`
queues subscribed to it (raw delivery), and the dead-letter queue both redrive to.

    declare.py --endpoint URL [--visibility-timeout S] [--max-receives N] [--audit-url URL]

With --audit-url, an http endpoint (audit.py) is subscribed to the topic too; it returns once the
endpoint has confirmed the subscription, within 10 s.
"""

import argparse
import json
import sys
import time

from common import DLQ, POOLS, TOPIC, clients


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--visibility-timeout", type=int, default=6)
    parser.add_argument("--max-receives", type=int, default=3)
    parser.add_argument("--audit-url", help="an http:// endpoint to subscribe to the topic")
    args = parser.parse_args()
    sns, sqs = clients(args.endpoint)

    dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": args.max_receives})
    for pool in POOLS:
        url = sqs.create_queue(
            QueueName=pool,
            Attributes={
                "VisibilityTimeout": str(args.visibility_timeout),
                "RedrivePolicy": redrive,
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        print(f"queue {pool}: {url}, subscribed to {TOPIC}, redrive to {DLQ} after "
              f"{args.max_receives} receives, visibility {args.visibility_timeout} s")
    print(f"topic {TOPIC}: {topic_arn}; dead-letter queue {DLQ}: {dlq_url}")
    if args.audit_url:
        subscribe_http(sns, topic_arn, args.audit_url)


def subscribe_http(sns, topic_arn, url):
    """Subscribes url and waits for it to confirm (the queue service POSTs it the
    SubscriptionConfirmation, the endpoint GETs the SubscribeURL)."""
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=url)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        arns = [s["SubscriptionArn"] for s in subscriptions if s["Endpoint"] == url]
        if arns and arns[0] != "PendingConfirmation":
            print(f"http endpoint {url}: subscribed to {TOPIC}, confirmed as {arns[0]}")
            return
        time.sleep(0.2)
    sys.exit(f"declare: {url} did not confirm its subscription to {TOPIC} within 10 s")


if __name__ == "__main__":
    main()
