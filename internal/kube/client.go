package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// The clients here know the core API group and object metadata, nothing
// else: client-go's clientset and informer factories register every API
// group of Kubernetes, which tripled propwatch's binary and added some
// 25 MB of resident code for types it never reads.

// coreScheme decodes the core group's objects (pods, Services) and the
// list and watch envelopes around them.
var coreScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		panic(err) // a registration conflict is a programming error
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s
}()

// newCoreClient is a REST client of the core API group (/api/v1).
func newCoreClient(rc *rest.Config) (*rest.RESTClient, error) {
	cfg := rest.CopyConfig(rc)
	cfg.APIPath = "/api"
	cfg.GroupVersion = &corev1.SchemeGroupVersion
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(coreScheme).WithoutConversion()
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	c, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return c, nil
}

// coreInformer watches every object of resource (pods, services) of the
// core group in all namespaces.
func coreInformer(c *rest.RESTClient, resource string, obj runtime.Object) cache.SharedIndexInformer {
	lw := cache.NewListWatchFromClient(c, resource, metav1.NamespaceAll, fields.Everything())
	return cache.NewSharedIndexInformer(lw, obj, 0, cache.Indexers{})
}

// metadataInformer watches the metadata of every object of gvr in all
// namespaces.
func metadataInformer(m metadata.Interface, gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	res := m.Resource(gvr).Namespace(metav1.NamespaceAll)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return res.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return res.Watch(ctx, opts)
		},
	}
	return cache.NewSharedIndexInformer(lw, &metav1.PartialObjectMetadata{}, 0, cache.Indexers{})
}

// listPods lists the pods of namespace that match selector.
func listPods(ctx context.Context, c *rest.RESTClient, namespace, selector string) (*corev1.PodList, error) {
	var pods corev1.PodList
	err := c.Get().Namespace(namespace).Resource("pods").
		VersionedParams(&metav1.ListOptions{LabelSelector: selector}, metav1.ParameterCodec).
		Do(ctx).Into(&pods)
	return &pods, err
}
