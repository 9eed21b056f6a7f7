package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// ImageSpec describes an image to upload. Properties carry the hw_*
// image properties (e.g. hw_numa_nodes) that take part in NUMA placement,
// which is why tests need their own images rather than a shared one.
type ImageSpec struct {
	// Name is the short name; the run prefix is added by CreateImage.
	Name       string
	Properties map[string]string
	// File is a local image file to upload.
	File string
	// DiskFormat defaults to "qcow2"; ContainerFormat is always "bare".
	DiskFormat string
}

// Image is an image created by the harness.
type Image struct {
	ID   string
	Name string
}

// CreateImage creates a private image, registers its deletion, uploads
// File and waits (up to timeout) for it to become active. On any failure
// after creation the image is deleted before returning.
func (r *Run) CreateImage(ctx context.Context, spec ImageSpec, timeout time.Duration) (*Image, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	f, err := os.Open(spec.File)
	if err != nil {
		return nil, fmt.Errorf("openstack: create image %s: %w", spec.Name, err)
	}
	defer f.Close()
	format := spec.DiskFormat
	if format == "" {
		format = "qcow2"
	}
	name := r.ResourceName(spec.Name)
	vis := images.ImageVisibilityPrivate
	img, err := images.Create(ctx, r.image, images.CreateOpts{
		Name: name, Visibility: &vis, ContainerFormat: "bare", DiskFormat: format,
		Tags: []string{r.Tag()}, Properties: spec.Properties,
	}).Extract()
	if err != nil {
		return nil, fmt.Errorf("openstack: create image %s: %w", name, err)
	}
	id := img.ID
	r.register(func(ctx context.Context) error { return r.DeleteImage(ctx, id, r.deleteTimeout) })
	fail := func(err error) (*Image, error) {
		if derr := r.DeleteImage(context.WithoutCancel(ctx), id, r.deleteTimeout); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete after failure: %w", derr))
		}
		return nil, err
	}
	if err := imagedata.Upload(ctx, r.image, id, f).ExtractErr(); err != nil {
		return fail(fmt.Errorf("openstack: upload %s to image %s (%s): %w", spec.File, name, id, err))
	}
	observed := "not checked"
	for {
		got, err := images.Get(ctx, r.image, id).Extract()
		if err == nil {
			observed = string(got.Status)
			switch got.Status {
			case images.ImageStatusActive:
				return &Image{ID: id, Name: name}, nil
			case images.ImageStatusKilled, images.ImageStatusDeleted:
				return fail(fmt.Errorf("openstack: image %s (%s): expected status active, observed %s", name, id, got.Status))
			}
		}
		select {
		case <-ctx.Done():
			return fail(&TimeoutError{What: "image", ID: id, Timeout: timeout, Expected: "status active", Observed: observed, Err: err})
		case <-time.After(pollInterval):
		}
	}
}

// DeleteImage deletes an image and confirms it is gone; 404 counts as
// success so cleanups are idempotent.
func (c *Cloud) DeleteImage(ctx context.Context, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := images.Delete(ctx, c.image, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return fmt.Errorf("openstack: delete image %s: %w", id, err)
	}
	return waitGone(ctx, "image", id, timeout, func(ctx context.Context) (string, error) {
		img, err := images.Get(ctx, c.image, id).Extract()
		if err != nil {
			return "", err
		}
		return "status " + string(img.Status), nil
	})
}
