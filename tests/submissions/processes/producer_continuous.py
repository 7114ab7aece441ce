from confluent_kafka import Producer
import json
import time

producer = Producer({'bootstrap.servers': 'localhost:9092'})

count = 0
print("Producing messages to 'high-volume'... (Ctrl+C to stop)")

try:
    while True:
        message = {
            'id': count,
            'timestamp': time.time(),
            'data': f'message-{count}'
        }
        producer.produce(
            'high-volume',
            key=str(count % 6).encode(),
            value=json.dumps(message).encode()
        )
        count += 1

        if count % 100 == 0:
            producer.flush()
            print(f"Sent {count} messages")
            time.sleep(0.1)

except KeyboardInterrupt:
    producer.flush()
    print(f"\nTotal sent: {count} messages")
