#!/bin/sh
# One-shot (compose service minio-setup): the platform's bucket, and a MinIO user of its
# own that may use that bucket and nothing else. Safe to run again: each step keeps what
# is already there and sets the key the env file holds now.
set -eu
mc alias set platform http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "platform/$BUCKET"
mc admin policy create platform ticketing-bucket /etc/minio-setup/bucket-policy.json
mc admin user add platform "$APP_ACCESS_KEY" "$APP_SECRET_KEY"
if ! mc admin user info platform "$APP_ACCESS_KEY" | grep -q ticketing-bucket; then
  mc admin policy attach platform ticketing-bucket --user "$APP_ACCESS_KEY"
fi
echo "bucket $BUCKET ready for $APP_ACCESS_KEY"
