package s3store_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dbctl/dbctl/backupstore"
	"github.com/dbctl/dbctl/backupstore/s3store"
)

// Importing s3store registers the "s3" scheme: backupstore.Open then
// takes s3:// locations (a bad bucket name is refused before any request).
func ExampleOpen() {
	fmt.Println(backupstore.Schemes())
	_, err := backupstore.Open(context.Background(), "s3://Backups/manticore", backupstore.Options{})
	fmt.Println(errors.Is(err, backupstore.ErrInvalidLocation))
	// Output:
	// [s3]
	// true
}

// New takes the caller's aws.Config; the store checks the bucket at once
// (here there is no server: a network error, after one attempt).
func ExampleNew() {
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	st, err := s3store.New(context.Background(), cfg, "s3://backups/manticore",
		backupstore.Options{Endpoint: "http://127.0.0.1:1", MaxAttempts: 1})
	if err == nil {
		defer st.Close()
	}
	fmt.Println(errors.Is(err, backupstore.ErrNetwork))
	// Output:
	// true
}

// NewFromClient takes the caller's client as it is; Close leaves its
// connections alone.
func ExampleNewFromClient() {
	client := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
	_, err := s3store.NewFromClient(context.Background(), client, "s3://backups/manticore", backupstore.Options{MaxAttempts: 1})
	var se *backupstore.Error
	fmt.Println(errors.As(err, &se), se.Op, se.Key, errors.Is(err, backupstore.ErrNetwork))
	// Output:
	// true open s3://backups/manticore true
}
